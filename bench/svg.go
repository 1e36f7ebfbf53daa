package main

import (
	"bytes"
	"fmt"
	"html"
	"os"
	"path/filepath"
)

// The chart: one block per workload, throughput bars on the left and
// latency bars on the right (p50 solid over a pale p99), each scaled to the
// largest value in its block; then the idle-connection memory, client side
// left and server side right (heap+stack solid over a pale RSS).

const (
	svgWidth  = 1000
	barH      = 11
	labelX    = 10
	leftX     = 240 // throughput panel
	rightX    = 620 // latency panel
	panelW    = 220 // longest bar; its label follows it
	blockHead = 18
)

var pairColors = map[string]string{
	"h2rpc": "#1f77b4", "grpc": "#ff7f0e", "h2rpc-grpc": "#2ca02c", "grpc-h2rpc": "#9467bd", "raw": "#8c8c8c",
}

func pairColor(id string) string {
	if c, ok := pairColors[id]; ok {
		return c
	}
	return "#444444"
}

type svgDoc struct {
	body bytes.Buffer
	y    int
}

func (d *svgDoc) text(x, y int, size int, weight, anchor, s string) {
	fmt.Fprintf(&d.body, `<text x="%d" y="%d" font-size="%d" font-weight="%s" text-anchor="%s">%s</text>`+"\n",
		x, y, size, weight, anchor, html.EscapeString(s))
}

func (d *svgDoc) rect(x, y, w, h int, fill string, opacity float64) {
	fmt.Fprintf(&d.body, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s" fill-opacity="%.2f"/>`+"\n", x, y, max(w, 1), h, fill, opacity)
}

// bar draws a solid bar for v over a pale one for behind (0 for none),
// both scaled so that full is panelW long, and its label after them. A
// value beyond full is cut at panelW and its label marked with "»".
func (d *svgDoc) bar(x, y int, v, behind, full float64, color, label string) {
	scale := func(v float64) int {
		if full <= 0 || v <= 0 {
			return 0
		}
		if v > full {
			label = "» " + label
			return panelW
		}
		return int(v / full * panelW)
	}
	w, wb := scale(v), scale(behind)
	if wb > 0 {
		d.rect(x, y, wb, barH-2, color, 0.3)
	}
	d.rect(x, y, w, barH-2, color, 1)
	d.text(x+max(w, wb)+4, y+barH-3, 10, "normal", "start", label)
}

// writeSVG draws r as a standalone SVG file at path.
func writeSVG(path string, r *report) error {
	d := &svgDoc{y: 20}
	d.text(labelX, d.y, 15, "bold", "start", "h2rpc vs grpc-go on loopback: "+r.Meta.Date)
	d.y += 16
	d.text(labelX, d.y, 11, "normal", "start", fmt.Sprintf("%s, GOMAXPROCS %d, %s; medians of %d rounds", r.Meta.GoVersion, r.Meta.GOMAXPROCS, r.Meta.CPU, r.Meta.Rounds))
	d.y += 18
	x := labelX
	for _, p := range allPairs {
		d.rect(x, d.y-9, 10, 10, pairColor(p.ID), 1)
		d.text(x+14, d.y, 11, "normal", "start", p.Label)
		x += 130
	}
	d.y += 22
	d.text(leftX, d.y, 12, "bold", "start", "throughput (longer is better; » = cut)")
	d.text(rightX, d.y, 12, "bold", "start", "latency p50 solid, p99 pale (shorter is better)")
	d.y += 10

	for _, wr := range r.Workloads {
		// Scale to the gRPC pairs, so that the raw TCP floor, often
		// several times faster, does not squash the bars being compared.
		var maxThr, maxLat float64
		for _, withRaw := range []bool{false, true} {
			for _, pr := range wr.Results {
				if pr.Pair.ID != "raw" || withRaw {
					maxThr = max(maxThr, pr.Median.OpsPerSec)
					maxLat = max(maxLat, pr.Median.P99us, pr.Median.P50us)
				}
			}
			if maxThr > 0 {
				break
			}
		}
		d.y += blockHead
		d.text(labelX, d.y, 12, "bold", "start", wr.Workload.Name)
		d.text(labelX, d.y+14, 10, "normal", "start", throughputLabel(wr.Workload)+" · op = "+wr.Workload.Unit)
		if q := wr.H2rpcOverGRPC; q.Throughput > 0 {
			d.text(labelX, d.y+28, 10, "normal", "start", fmt.Sprintf("h2rpc/grpc-go: thr %s, p50 %s", times(q.Throughput), times(q.P50)))
		}
		y := d.y - 8
		for _, pr := range wr.Results {
			m, c := pr.Median, pairColor(pr.Pair.ID)
			thr := num(m.OpsPerSec) + " " + throughputLabel(wr.Workload)
			if m.MBPerSec > 0 {
				thr += fmt.Sprintf(" (%s MB/s)", num(m.MBPerSec))
			}
			if m.Errors > 0 && m.OpsPerSec == 0 {
				thr = "failed"
			}
			d.bar(leftX, y, m.OpsPerSec, 0, maxThr, c, thr)
			d.bar(rightX, y, m.P50us, m.P99us, maxLat, c, dur(m.P50us)+" / "+dur(m.P99us))
			y += barH
		}
		d.y = max(y, d.y+30)
	}

	if len(r.Idle) > 0 {
		d.y += 30
		d.text(labelX, d.y, 12, "bold", "start", fmt.Sprintf("idle connections (%d)", r.Meta.IdleConns))
		d.text(leftX, d.y, 12, "bold", "start", "client bytes/conn: heap+stack solid, RSS pale")
		d.text(rightX, d.y, 12, "bold", "start", "server bytes/conn: heap+stack solid, RSS pale")
		var full float64
		for _, ir := range r.Idle {
			full = max(full, ir.Client.RSSPerConn, ir.Server.RSSPerConn,
				ir.Client.HeapPerConn+ir.Client.StackPerConn, ir.Server.HeapPerConn+ir.Server.StackPerConn)
		}
		y := d.y + 8
		for _, ir := range r.Idle {
			c := pairColor(ir.Pair.ID)
			for i, s := range []idleSide{ir.Client, ir.Server} {
				x := []int{leftX, rightX}[i]
				mem := s.HeapPerConn + s.StackPerConn
				d.bar(x, y, mem, s.RSSPerConn, full, c, fmt.Sprintf("%s B (RSS %s B)", num(mem), num(s.RSSPerConn)))
			}
			d.text(labelX, y+barH-3, 10, "normal", "start", ir.Pair.Label)
			y += barH + 2
		}
		d.y = y
	}
	d.y += 20

	var out bytes.Buffer
	fmt.Fprintf(&out, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif">`+"\n",
		svgWidth, d.y, svgWidth, d.y)
	fmt.Fprintf(&out, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	out.Write(d.body.Bytes())
	out.WriteString("</svg>\n")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
}
