package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// include_dir reads *.conf files in Mosquitto's order: ignoring case first,
// uppercase before lowercase where only case differs.
func TestIncludeDirOrder(t *testing.T) {
	dir := t.TempDir()
	confD := filepath.Join(dir, "conf.d")
	names := []string{"b.conf", "B.conf", "a.conf", "A.conf", "_z.conf", "10-x.conf", "ab.conf"}
	for i, name := range names {
		writeFile(t, filepath.Join(confD, name), "listener "+string(rune('1'+i))+"000\n")
	}
	writeFile(t, filepath.Join(confD, "README"), "not a config file\n")
	writeFile(t, filepath.Join(confD, ".conf"), "bogus\n")
	writeFile(t, filepath.Join(confD, "notes.conf.bak"), "bogus\n")
	if err := os.Mkdir(filepath.Join(confD, "sub.conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "main.conf")
	writeFile(t, main, "listener 1883\ninclude_dir "+confD+"\nlistener 8883\n")

	cfg, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	order := []string{"10-x.conf", "A.conf", "a.conf", "ab.conf", "B.conf", "b.conf", "_z.conf"}
	wantFiles := []string{main}
	wantPorts := []int{1883}
	for _, name := range order {
		wantFiles = append(wantFiles, filepath.Join(confD, name))
		wantPorts = append(wantPorts, (slices.Index(names, name)+1)*1000)
	}
	wantPorts = append(wantPorts, 8883)
	var ports []int
	for _, l := range cfg.Listeners {
		ports = append(ports, l.Port)
	}
	if !reflect.DeepEqual(cfg.Files, wantFiles) || !reflect.DeepEqual(ports, wantPorts) {
		t.Fatalf("files %q\nports %v\nwant  %q\nports %v", cfg.Files, ports, wantFiles, wantPorts)
	}
}

func TestIncludeDirErrors(t *testing.T) {
	dir := t.TempDir()
	confD := filepath.Join(dir, "conf.d")
	writeFile(t, filepath.Join(confD, "a.conf"), "listener 1884\n")
	writeFile(t, filepath.Join(confD, "b.conf"), "# limits\nmax_qos 7\n")
	main := filepath.Join(dir, "main.conf")
	writeFile(t, main, "listener 1883\ninclude_dir "+confD+"\n")

	// An error in an included file names that file and its line.
	_, err := Load(main)
	var e *Error
	if !errors.As(err, &e) || e.File != filepath.Join(confD, "b.conf") || e.Line != 2 {
		t.Fatalf("error = %v, want one at %s:2", err, filepath.Join(confD, "b.conf"))
	}

	// A missing directory is an error at the include_dir line.
	writeFile(t, main, "\ninclude_dir "+filepath.Join(dir, "missing")+"\n")
	if _, err := Load(main); !errors.As(err, &e) || e.File != main || e.Line != 2 {
		t.Fatalf("error = %v, want one at %s:2", err, main)
	}
	if e := parseError(t, "include_dir\n"); e.Msg != "include_dir: missing value (accepted: a directory)" {
		t.Fatalf("error = %q", e)
	}
}

// Mosquitto reads include_dir only in the main file; midge says so.
func TestIncludeDirInIncludedFileIsIgnored(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "one/a.conf"), "include_dir "+filepath.Join(dir, "two")+"\n")
	writeFile(t, filepath.Join(dir, "two/b.conf"), "listener 1\n")
	main := filepath.Join(dir, "main.conf")
	writeFile(t, main, "include_dir "+filepath.Join(dir, "one")+"\n")
	cfg, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listeners) != 0 || len(cfg.Warnings) != 1 || cfg.Warnings[0].File != filepath.Join(dir, "one/a.conf") ||
		cfg.Warnings[0].Option != "include_dir" {
		t.Fatalf("listeners %v warnings %v", cfg.Listeners, cfg.Warnings)
	}
}

// Each file starts with the default listener as its current one, as in
// Mosquitto: listener options at the top of an included file do not reach
// the listener declared above the include_dir line.
func TestIncludedFileStartsAtTheDefaultListener(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "conf.d/a.conf"), "max_connections 5\nlistener 9000\nmax_connections 9\n")
	main := filepath.Join(dir, "main.conf")
	writeFile(t, main, "listener 8883\ninclude_dir "+filepath.Join(dir, "conf.d")+"\nmax_connections 7\n")
	cfg, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]int{}
	for _, l := range cfg.Listeners {
		got[l.Port] = l.MaxConnections
	}
	if !reflect.DeepEqual(got, map[int]int{8883: 7, 9000: 9, 1883: 5}) || !cfg.Listeners[2].Implicit ||
		cfg.Listeners[2].File != filepath.Join(dir, "conf.d/a.conf") || cfg.Listeners[2].Line != 1 {
		t.Fatalf("listeners = %+v", cfg.Listeners)
	}
}
