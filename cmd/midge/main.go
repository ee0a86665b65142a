// Command midge is an MQTT broker and the everyday tools that go with one.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/midge-mqtt/midge/internal/cli"
)

const usage = `midge: an MQTT broker and its tools.

Usage: midge COMMAND [options]

Commands:
  broker   run the broker (midge broker --help)
  pub      publish messages, like mosquitto_pub
  sub      subscribe and print messages, like mosquitto_sub
  passwd   manage a password file, like mosquitto_passwd
  bench    load-test any MQTT broker (midge bench --help)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stdio := cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
	args := os.Args[2:]
	var status int
	switch os.Args[1] {
	case "broker":
		status = cli.Broker(ctx, args, stdio)
	case "pub":
		status = cli.Pub(ctx, args, stdio)
	case "sub":
		status = cli.Sub(ctx, args, stdio)
	case "passwd":
		status = cli.Passwd(ctx, args, stdio)
	case "bench":
		status = cli.Bench(ctx, args, stdio)
	case "help", "-h", "--help":
		fmt.Fprint(os.Stdout, usage)
	default:
		fmt.Fprintf(os.Stderr, "midge: unknown command %q\n\n%s", os.Args[1], usage)
		status = 1
	}
	stop()
	os.Exit(status)
}
