package config

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the options table of docs/configuration.md from the registry")

const (
	docPath    = "../../docs/configuration.md"
	tableBegin = "<!-- options table: generated from internal/config/registry.go by `go test ./internal/config -run OptionsTable -update`; a test fails when they differ -->"
	tableEnd   = "<!-- end of options table -->"
)

// row is one line of the table.
type row struct{ name, scope, status, def, note string }

func (r row) String() string {
	return fmt.Sprintf("| `%s` | %s | %s | %s | %s |", r.name, r.scope, r.status, r.def, r.note)
}

func registryRows() []row {
	var rows []row
	for _, o := range Options() {
		rows = append(rows, row{o.Name, o.Scope.String(), o.Status.String(), o.Default, o.Note})
	}
	return rows
}

// TestOptionsTable keeps docs/configuration.md honest: every option of the
// registry has a row, every row is in the registry, and the scope, status,
// default and note agree.
func TestOptionsTable(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(doc), tableBegin+"\n")
	body, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok1 || !ok2 {
		t.Fatalf("%s: no options table between %q and %q", docPath, tableBegin, tableEnd)
	}
	if *update {
		var b strings.Builder
		b.WriteString("| Option | Scope | Status | Mosquitto default | Notes |\n|---|---|---|---|---|\n")
		for _, r := range registryRows() {
			b.WriteString(r.String() + "\n")
		}
		if err := os.WriteFile(docPath, []byte(before+tableBegin+"\n"+b.String()+tableEnd+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}

	table := map[string]row{}
	for i, line := range strings.Split(strings.TrimSpace(body), "\n") {
		if i < 2 { // the header and its rule
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 5 {
			t.Errorf("table row %q: want 5 cells", line)
			continue
		}
		r := row{strings.Trim(cells[0], "`"), cells[1], cells[2], cells[3], cells[4]}
		if _, dup := table[r.name]; dup {
			t.Errorf("%s: two rows", r.name)
		}
		table[r.name] = r
	}
	for _, want := range registryRows() {
		got, ok := table[want.name]
		switch {
		case !ok:
			t.Errorf("%s: in the registry, missing from %s", want.name, docPath)
		case got.status != want.status:
			t.Errorf("%s: status %q in %s, %q in the registry", want.name, got.status, docPath, want.status)
		case got != want:
			t.Errorf("%s: row differs\n doc:      %s\n registry: %s", want.name, got, want)
		}
		delete(table, want.name)
	}
	for name := range table {
		t.Errorf("%s: a row of %s that is not in the registry", name, docPath)
	}
	if t.Failed() {
		t.Log("after changing the registry, run: go test ./internal/config -run OptionsTable -update")
	}
}
