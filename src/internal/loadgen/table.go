package loadgen

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// WriteTable prints one line per summary.
func WriteTable(w io.Writer, rows []Summary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "fault\tPOSTs\t202\t503\t4xx\tother\tnot sent\tstored\tduplicates\tlost\tlongest 503 run\tback to 90% after\t")
	for _, r := range rows {
		recovery := "never"
		switch {
		case r.Whole:
			recovery = "-"
		case r.Recovery >= 0:
			recovery = seconds(r.Recovery)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t\n", r.Name, r.Sent, r.Accepted, r.Unavailable,
			r.BadInput, r.Violations, r.Skipped, r.Stored, r.Duplicates, r.Lost, seconds(r.Longest503), recovery)
	}
	return tw.Flush()
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
