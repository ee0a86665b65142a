package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// peer is one broker of the comparison.
type peer struct {
	name    string
	port    int
	config  string // file under bench/ holding its settings, shown in the report
	prepare func(root string) error
	// command returns the program and arguments that start it.
	command func(root string) (string, []string)
	version func(root string) string
	// scratch runs it in a fresh directory in memory (/dev/shm): nats-server
	// keeps its JetStream store in its working directory.
	scratch bool
	// confPath, when set, replaces bench/<config> (midge with the lines
	// its configuration reader accepts); note says why.
	confPath string
	note     string
	defaults string // what it does where its configuration is silent
}

const natsModule = "github.com/nats-io/nats-server/v2@v2.15.2"

// peers returns every broker compare knows, midge first.
func peers() []*peer {
	return []*peer{midgePeer(), mosquittoPeer(), natsPeer(), mochiPeer()}
}

// bin is where compare keeps the binaries it builds.
func bin(root, name string) string { return filepath.Join(root, "bench", ".bin", name) }

// midgePeer is midge built from the working tree.
func midgePeer() *peer {
	midge := &peer{
		name: "midge", port: 18831, config: "midge.conf",
		version:  func(root string) string { return "midge " + gitDescribe(root) },
		defaults: "20 messages in flight and 1,000 queued per client",
	}
	midge.prepare = func(root string) error {
		return runIn(root, nil, "go", "build", "-o", bin(root, "midge"), "./cmd/midge")
	}
	midge.command = func(root string) (string, []string) {
		conf := midge.confPath
		if conf == "" {
			conf = filepath.Join(root, "bench", "midge.conf")
		}
		return bin(root, "midge"), []string{"broker", "-c", conf}
	}
	return midge
}

// mosquittoPeer is Debian's mosquitto, installed with apt-get if missing.
func mosquittoPeer() *peer {
	return &peer{
		name: "mosquitto", port: 18832, config: "mosquitto.conf",
		prepare: func(string) error {
			if _, err := mosquittoPath(); err == nil {
				return nil
			}
			fmt.Fprintln(os.Stderr, "compare: installing mosquitto with apt-get")
			if err := runIn("", nil, "apt-get", "install", "-y", "mosquitto"); err != nil {
				return err
			}
			_, err := mosquittoPath()
			return err
		},
		command: func(root string) (string, []string) {
			path, _ := mosquittoPath()
			return path, []string{"-c", filepath.Join(root, "bench", "mosquitto.conf")}
		},
		version: func(string) string {
			path, _ := mosquittoPath()
			out, _ := exec.Command(path, "-h").Output()
			line, _, _ := strings.Cut(string(out), "\n")
			return strings.TrimSpace(line) + debianVersion("mosquitto")
		},
	}
}

// natsPeer is nats-server in MQTT mode, installed with go install.
func natsPeer() *peer {
	return &peer{
		name: "nats", port: 18833, config: "nats.conf", scratch: true,
		prepare: func(root string) error {
			if _, err := os.Stat(bin(root, "nats-server")); err == nil {
				return nil
			}
			fmt.Fprintln(os.Stderr, "compare: go install "+natsModule)
			return runIn(root, []string{"GOBIN=" + filepath.Join(root, "bench", ".bin")}, "go", "install", natsModule)
		},
		command: func(root string) (string, []string) {
			return bin(root, "nats-server"), []string{"-c", filepath.Join(root, "bench", "nats.conf")}
		},
		version: func(root string) string {
			out, _ := exec.Command(bin(root, "nats-server"), "--version").Output()
			return strings.TrimSpace(string(out)) + " (MQTT mode)"
		},
	}
}

// mochiPeer is mochi-mqtt v2 behind the few lines of bench/mochi.
func mochiPeer() *peer {
	return &peer{
		name: "mochi", port: 18834, config: "mochi/main.go",
		prepare: func(root string) error {
			return runIn(filepath.Join(root, "bench", "mochi"), nil, "go", "build", "-o", bin(root, "mochi"), ".")
		},
		command: func(root string) (string, []string) {
			return bin(root, "mochi"), []string{"-addr", "127.0.0.1:18834"}
		},
		version: func(string) string { return "mochi-mqtt/server v2.7.9 (bench/mochi)" },
	}
}

// fitConfig starts p once with its configuration and, if it exits at
// once, retries with only the lines whose option is in accepted, written
// to logDir; the report then says which lines were left out.
func fitConfig(root string, p *peer, logDir string, accepted ...string) error {
	b, err := start(root, p, logDir)
	if err == nil {
		b.stop()
		return nil
	}
	full, readErr := os.ReadFile(filepath.Join(root, "bench", p.config))
	if readErr != nil {
		return readErr
	}
	var kept, dropped []string
	for _, line := range strings.Split(string(full), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") || slices.Contains(accepted, fields[0]) {
			kept = append(kept, line)
		} else {
			dropped = append(dropped, strings.TrimSpace(line))
		}
	}
	p.confPath = filepath.Join(logDir, p.name+"-accepted.conf")
	if err := os.WriteFile(p.confPath, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		return err
	}
	b, err2 := start(root, p, logDir)
	if err2 != nil {
		return fmt.Errorf("compare: %s does not start with its configuration (%v) nor with the lines it accepts (%v)", p.name, err, err2)
	}
	b.stop()
	p.note = fmt.Sprintf("Its configuration reader refused bench/%s, so it ran without `%s`, with its defaults for them (%s).",
		p.config, strings.Join(dropped, "`, `"), p.defaults)
	fmt.Fprintln(os.Stderr, "compare: "+p.note)
	return nil
}

// mosquittoPath finds the mosquitto binary, which Debian puts in /usr/sbin.
func mosquittoPath() (string, error) {
	if path, err := exec.LookPath("mosquitto"); err == nil {
		return path, nil
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto", nil
	}
	return "", errors.New("compare: mosquitto is not installed")
}

// debianVersion returns " (Debian package VERSION)" or "".
func debianVersion(pkg string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", pkg).Output()
	if err != nil || len(out) == 0 {
		return ""
	}
	return " (Debian package " + string(out) + ")"
}

// gitDescribe names the midge source measured: the commit, and whether the
// working tree had changes. It only reads.
func gitDescribe(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "(unknown commit)"
	}
	desc := "commit " + strings.TrimSpace(string(out))
	if status, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(status) > 0 {
		desc += " with uncommitted changes"
	}
	return desc
}

// runIn runs a preparation command with its output on stderr.
func runIn(dir string, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("compare: %s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

// running is a broker process compare started.
type running struct {
	cmd     *exec.Cmd
	dir     string // scratch directory to remove, or ""
	logPath string
	exited  chan struct{}
}

// start launches p, waits until its port accepts connections, and returns
// the process. It refuses to start when something already listens there.
func start(root string, p *peer, logDir string) (*running, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", p.port)
	if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("compare: something already listens on %s; stop it first", addr)
	}
	name, args := p.command(root)
	cmd := exec.Command(name, args...)
	r := &running{cmd: cmd, exited: make(chan struct{}), logPath: filepath.Join(logDir, p.name+".log")}
	if p.scratch {
		base := "/dev/shm"
		if _, err := os.Stat(base); err != nil {
			base = ""
		}
		dir, err := os.MkdirTemp(base, "midge-bench-"+p.name+"-")
		if err != nil {
			return nil, err
		}
		cmd.Dir, r.dir = dir, dir
	}
	logFile, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		cmd.Wait()
		close(r.exited)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.exited:
			return nil, fmt.Errorf("compare: %s exited at start; see %s", p.name, r.logPath)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return r, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.stop()
	return nil, fmt.Errorf("compare: %s did not listen on %s within 15 s; see %s", p.name, addr, r.logPath)
}

// pid returns the broker's process id.
func (r *running) pid() int { return r.cmd.Process.Pid }

// stop ends the process compare started, by its PID: SIGTERM, then
// SIGKILL after 10 seconds.
func (r *running) stop() {
	r.cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case <-r.exited:
	case <-ctx.Done():
		r.cmd.Process.Kill()
		<-r.exited
	}
	if r.dir != "" {
		os.RemoveAll(r.dir)
	}
}
