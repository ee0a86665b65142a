// Command midge is an MQTT broker and the everyday tools that go with one.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/midge-mqtt/midge/internal/brokercmd"
	"github.com/midge-mqtt/midge/internal/cli"
)

const usage = `midge: an MQTT broker and its tools.

Usage: midge COMMAND [options]

Commands:
  broker   run the broker (midge broker --help)
  pub      publish messages, like mosquitto_pub
  sub      subscribe and print messages, like mosquitto_sub
  rr       send a request and print its response, like mosquitto_rr
  passwd   manage a password file, like mosquitto_passwd
  cert     make TLS certificates for a broker and its clients (midge cert --help)
  bench    load-test any MQTT broker (midge bench --help)
  version  print midge's version, commit and Go version (also --version)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stdio := cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
	brokerStdio := brokercmd.Stdio{Out: os.Stdout, Err: os.Stderr}
	args := os.Args[2:]
	var status int
	switch os.Args[1] {
	case "broker":
		status = brokercmd.RunWithReload(ctx, args, brokerStdio, hangups(ctx))
	case "pub":
		status = cli.Pub(ctx, args, stdio)
	case "sub":
		status = cli.Sub(ctx, args, stdio)
	case "rr":
		status = cli.RR(ctx, args, stdio)
	case "passwd":
		status = cli.Passwd(ctx, args, stdio)
	case "cert":
		status = cli.Cert(ctx, args, stdio)
	case "bench":
		status = cli.Bench(ctx, args, stdio)
	case "version", "--version":
		status = brokercmd.PrintVersion(brokerStdio)
	case "help", "-h", "--help":
		fmt.Fprint(os.Stdout, usage)
	default:
		fmt.Fprintf(os.Stderr, "midge: unknown command %q\n\n%s", os.Args[1], usage)
		status = 1
	}
	stop()
	os.Exit(status)
}

// hangups turns SIGHUP into reload requests for the broker, as Mosquitto
// reloads its security files on SIGHUP. (Windows has no SIGHUP; the
// channel then never fires.)
func hangups(ctx context.Context) <-chan struct{} {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	reload := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
				select {
				case reload <- struct{}{}:
				default: // one is pending already
				}
			}
		}
	}()
	return reload
}
