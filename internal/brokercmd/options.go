package brokercmd

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/midge-mqtt/midge/internal/config"
)

const optionsLegend = `The mosquitto.conf options midge knows, from the registry that docs/configuration.md's table is made of.
  implemented: read and applied.
  warning:     accepted and ignored; the broker logs a warning with the reason.
  refused:     the configuration does not load, because ignoring the option would be unsafe.
An option not listed here is an error.

`

// printOptions writes `midge broker --options`: every option of the
// registry, one line each, with its status, scope, Mosquitto's default and
// the note, so that `midge broker --options | grep NAME` answers for one.
func printOptions(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, optionsLegend)
	fmt.Fprintln(tw, "OPTION\tSTATUS\tSCOPE\tMOSQUITTO DEFAULT\tNOTES")
	for _, o := range config.Options() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.Name, o.Status, o.Scope, o.Default, plainNote(o.Note))
	}
	return tw.Flush()
}

// markdownLink is a link within docs/configuration.md, as notes hold them.
var markdownLink = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)

// plainNote turns a registry note, written for docs/configuration.md, into
// plain text: links become their text, backquotes go.
func plainNote(note string) string {
	return strings.ReplaceAll(markdownLink.ReplaceAllString(note, "$1"), "`", "")
}
