//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// crossTargets are the platforms midge ships for.
var crossTargets = []string{"linux/amd64", "linux/arm/6", "linux/arm64", "windows/amd64"}

// storeModules are the module each candidate needs (the version comes from
// this module's go.mod).
var storeModules = map[string]string{
	"bbolt":   "go.etcd.io/bbolt",
	"pebble":  "github.com/cockroachdb/pebble",
	"pebble2": "github.com/cockroachdb/pebble/v2",
}

// crossConfig names one build of a tiny program.
type crossConfig struct {
	Store  string `json:"store"` // or "none", the baseline
	Target string `json:"target"`
}

// crossResult is one build, and for targets this machine can run, a smoke
// run (write, reopen, count).
type crossResult struct {
	Built   bool   `json:"built"`
	Size    int64  `json:"size,omitempty"`
	Modules int    `json:"modules,omitempty"` // modules linked into the binary (go version -m)
	Smoke   string `json:"smoke,omitempty"`   // "ok ..." or the failure; empty when not run
	Output  string `json:"output,omitempty"`  // the build's error
}

// depsResult is the dependency weight of one store alone in a fresh module.
type depsResult struct {
	Version      string `json:"version"`
	GoSumModules int    `json:"go_sum_modules"` // distinct modules in go.sum
	BuildList    int    `json:"build_list"`     // go list -m all, the module itself excluded
	GoDirective  string `json:"go_directive"`   // after go get
}

// driveCross cross-builds tiny/<store> for every target with CGO_ENABLED=0,
// runs the smoke test for linux/amd64, linux/386 (the same 64-bit atomic
// alignment rules as 32-bit ARM) and linux/arm through qemu-arm when it is
// installed, and measures each store's dependency weight.
func driveCross(o options, save func(record) error) error {
	binaries := filepath.Join(o.dir, "bin")
	if err := os.MkdirAll(binaries, 0o755); err != nil {
		return err
	}
	defer removeAll(binaries)
	qemu, _ := exec.LookPath("qemu-arm")
	for _, store := range append([]string{"none"}, o.stores...) {
		if _, err := os.Stat(filepath.Join("tiny", store)); err != nil {
			continue // a variant of a store, same module
		}
		for _, target := range append(slices.Clone(crossTargets), "linux/386") {
			fmt.Fprintf(os.Stderr, "cross %s %s\n", store, target)
			config := crossConfig{Store: store, Target: target}
			result := crossBuild(config, binaries)
			if result.Built {
				path := filepath.Join(binaries, binaryName(config))
				switch {
				case target == "linux/amd64" || target == "linux/386" && runtime.GOARCH == "amd64":
					result.Smoke = smokeRun(o, path)
				case target == "linux/arm/6" && qemu != "":
					result.Smoke = smokeRun(o, qemu, "-cpu", "arm1176", path) // an ARMv6 core, as in the Raspberry Pi Zero
				}
			}
			encoded, _ := json.Marshal(config)
			outcome, _ := json.Marshal(result)
			if err := save(record{Kind: "cross", Config: encoded, Result: outcome, Started: time.Now()}); err != nil {
				return err
			}
		}
	}
	for _, store := range o.stores {
		if _, ok := storeModules[store]; !ok {
			continue
		}
		fmt.Fprintf(os.Stderr, "deps %s\n", store)
		encoded, _ := json.Marshal(crossConfig{Store: store})
		r := record{Kind: "deps", Config: encoded, Started: time.Now()}
		result, err := measureDeps(o, store)
		if err != nil {
			r.Error = err.Error()
		} else {
			r.Result, _ = json.Marshal(result)
		}
		if err := save(r); err != nil {
			return err
		}
	}
	return nil
}

func binaryName(config crossConfig) string {
	return config.Store + "-" + strings.ReplaceAll(config.Target, "/", "-")
}

func crossBuild(config crossConfig, binaries string) crossResult {
	var result crossResult
	parts := strings.Split(config.Target, "/")
	path := filepath.Join(binaries, binaryName(config))
	command := exec.Command("go", "build", "-trimpath", "-o", path, "./tiny/"+config.Store)
	command.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+parts[0], "GOARCH="+parts[1])
	if len(parts) == 3 {
		command.Env = append(command.Env, "GOARM="+parts[2])
	}
	output, err := command.CombinedOutput()
	if err != nil {
		result.Output = lastLines(string(output), 8)
		return result
	}
	result.Built = true
	if info, err := os.Stat(path); err == nil {
		result.Size = info.Size()
	}
	if versions, err := exec.Command("go", "version", "-m", path).Output(); err == nil {
		for _, line := range strings.Split(string(versions), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "dep") {
				result.Modules++
			}
		}
	}
	return result
}

// smokeRecords is enough for pebble to flush and compact several memtables
// and for bbolt to grow its file and mapping several times.
const smokeRecords = 1_000_000

func smokeRun(o options, command ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), o.runLimit)
	defer cancel()
	dir := filepath.Join(o.dir, "smoke")
	output, err := exec.CommandContext(ctx, command[0], append(command[1:], dir, strconv.Itoa(smokeRecords))...).CombinedOutput()
	removeAll(dir)
	text := lastLines(string(output), 3)
	if err != nil {
		return fmt.Sprintf("FAILED: %v: %s", err, text)
	}
	for _, line := range strings.Split(string(output), "\n") {
		if strings.HasPrefix(line, "ok ") {
			return line
		}
	}
	return "FAILED: no ok line: " + text
}

// measureDeps makes a module that holds only tiny/<store> and asks the go
// command what it pulls in.
func measureDeps(o options, store string) (depsResult, error) {
	var result depsResult
	version, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", storeModules[store]).Output()
	if err != nil {
		return result, fmt.Errorf("kvchoice: go list -m %s: %w", storeModules[store], err)
	}
	result.Version = strings.TrimSpace(string(version))
	dir := filepath.Join(o.dir, "deps", store)
	defer removeAll(filepath.Join(o.dir, "deps"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return result, err
	}
	source, err := os.ReadFile(filepath.Join("tiny", store, "main.go"))
	if err != nil {
		return result, err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), source, 0o644); err != nil {
		return result, err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/"+store+"\n\ngo 1.24.0\n"), 0o644); err != nil {
		return result, err
	}
	steps := [][]string{
		{"go", "get", storeModules[store] + "@" + result.Version},
		{"go", "mod", "tidy"},
	}
	for _, step := range steps {
		command := exec.Command(step[0], step[1:]...)
		command.Dir = dir
		if output, err := command.CombinedOutput(); err != nil {
			return result, fmt.Errorf("kvchoice: %s: %v: %s", strings.Join(step, " "), err, lastLines(string(output), 3))
		}
	}
	sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil {
		return result, err
	}
	modules := map[string]bool{}
	for _, line := range strings.Split(string(sum), "\n") {
		if fields := strings.Fields(line); len(fields) > 0 {
			modules[fields[0]] = true
		}
	}
	result.GoSumModules = len(modules)
	list := exec.Command("go", "list", "-m", "all")
	list.Dir = dir
	all, err := list.Output()
	if err != nil {
		return result, err
	}
	result.BuildList = len(strings.Split(strings.TrimSpace(string(all)), "\n")) - 1
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return result, err
	}
	for _, line := range strings.Split(string(mod), "\n") {
		if strings.HasPrefix(line, "go ") {
			result.GoDirective = strings.TrimPrefix(line, "go ")
		}
	}
	return result, nil
}

// machine describes where the figures come from.
type machine struct {
	CPU        string `json:"cpu"`
	CPUs       int    `json:"cpus"`
	Memory     string `json:"memory"`
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	FileSystem string `json:"file_system"`
	Date       string `json:"date"`
}

func describeMachine(dir string) machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Date: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(info), "\n") {
			if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				m.CPU = strings.TrimSpace(value)
				break
			}
		}
	}
	if release, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(release))
	}
	var info unix.Sysinfo_t
	if unix.Sysinfo(&info) == nil {
		m.Memory = fmt.Sprintf("%.0f GiB", float64(info.Totalram)*float64(info.Unit)/(1<<30))
	}
	m.FileSystem = fileSystemOf(dir)
	return m
}

// fileSystemOf names the mount that holds dir, from /proc/mounts.
func fileSystemOf(dir string) string {
	file, err := os.Open("/proc/mounts")
	if err != nil {
		return ""
	}
	defer file.Close()
	absolute, _ := filepath.Abs(dir)
	best, description := "", ""
	for scanner := bufio.NewScanner(file); scanner.Scan(); {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 4 {
			continue
		}
		mount := fields[1]
		inside := absolute == mount || strings.HasPrefix(absolute, strings.TrimSuffix(mount, "/")+"/")
		if inside && len(mount) > len(best) {
			best, description = mount, fmt.Sprintf("%s on %s (%s, %s)", fields[0], mount, fields[2], fields[3])
		}
	}
	return description
}

// diskConfig and diskResult: the cost of one fdatasync on this disk, the
// floor under any store's durable commit.
type diskConfig struct {
	Rep   int `json:"rep"`
	Count int `json:"count"`
}

type diskResult struct {
	P50Micros float64 `json:"p50_us"`
	P99Micros float64 `json:"p99_us"`
}

// driveDisk appends 4 KiB and calls fdatasync, Count times per rep.
func driveDisk(o options, save func(record) error) error {
	dir := filepath.Join(o.dir, "disk")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer removeAll(dir)
	for rep := range o.reps {
		config := diskConfig{Rep: rep, Count: 2000}
		file, err := os.Create(filepath.Join(dir, "append"))
		if err != nil {
			return err
		}
		block := bytes.Repeat([]byte{0xa5}, 4096)
		latencies := make([]time.Duration, 0, config.Count)
		for range config.Count {
			start := time.Now()
			if _, err := file.Write(block); err != nil {
				file.Close()
				return err
			}
			if err := unix.Fdatasync(int(file.Fd())); err != nil {
				file.Close()
				return err
			}
			latencies = append(latencies, time.Since(start))
		}
		file.Close()
		slices.Sort(latencies)
		encoded, _ := json.Marshal(config)
		outcome, _ := json.Marshal(diskResult{P50Micros: percentile(latencies, 0.5), P99Micros: percentile(latencies, 0.99)})
		if err := save(record{Kind: "disk", Config: encoded, Result: outcome, Started: time.Now()}); err != nil {
			return err
		}
	}
	return nil
}
