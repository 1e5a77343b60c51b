//go:build e2e

package report_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// browser is a headless Chromium driven over the DevTools protocol on a
// pipe (--remote-debugging-pipe: commands on fd 3, answers on fd 4, each
// message NUL-terminated), so that a test can measure the laid-out page:
// the report's CSP forbids scripts in the page itself, and DevTools
// evaluation is not bound by it. Nothing listens on a socket.
type browser struct {
	t       *testing.T
	cmd     *exec.Cmd
	send    *os.File
	msgs    chan cdpMessage
	next    int
	session string
	events  []string
}

type cdpMessage struct {
	ID     int             `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
	SessionID string `json:"sessionId"`
}

// startBrowser starts Chromium and opens one page of the given viewport.
func startBrowser(t *testing.T, bin string, width, height int) *browser {
	t.Helper()
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--remote-debugging-pipe", "--user-data-dir="+t.TempDir(), "about:blank")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	cmd.ExtraFiles = []*os.File{cmdR, outW} // fd 3, fd 4
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start chromium: %v", err)
	}
	cmdR.Close()
	outW.Close()
	b := &browser{t: t, cmd: cmd, send: cmdW, msgs: make(chan cdpMessage, 64)}
	t.Cleanup(func() {
		b.send.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		cancel()
	})
	go func() {
		r := bufio.NewReaderSize(outR, 1<<20)
		for {
			raw, err := r.ReadBytes(0)
			if err != nil {
				close(b.msgs)
				return
			}
			var m cdpMessage
			if json.Unmarshal(raw[:len(raw)-1], &m) == nil {
				b.msgs <- m
			}
		}
	}()

	var target struct{ TargetID string }
	b.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct{ SessionID string }
	b.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	b.session = attached.SessionID
	b.call(b.session, "Emulation.setDeviceMetricsOverride",
		map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil)
	b.call(b.session, "Page.enable", nil, nil)
	return b
}

// call sends one command and waits for its answer, remembering the events
// that arrive meanwhile.
func (b *browser) call(session, method string, params any, result any) {
	b.t.Helper()
	b.next++
	id := b.next
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	data, err := json.Marshal(msg)
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := b.send.Write(append(data, 0)); err != nil {
		b.t.Fatalf("cdp %s: %v", method, err)
	}
	timeout := time.After(time.Minute)
	for {
		select {
		case m, ok := <-b.msgs:
			if !ok {
				b.t.Fatalf("cdp %s: chromium closed the pipe", method)
			}
			if m.ID != id {
				if m.Method != "" {
					b.events = append(b.events, m.Method)
				}
				continue
			}
			if m.Error != nil {
				b.t.Fatalf("cdp %s: %s", method, m.Error.Message)
			}
			if result != nil {
				if err := json.Unmarshal(m.Result, result); err != nil {
					b.t.Fatalf("cdp %s: %v", method, err)
				}
			}
			return
		case <-timeout:
			b.t.Fatalf("cdp %s: no answer in a minute", method)
		}
	}
}

// open loads a file into the page and waits for its load event.
func (b *browser) open(path string) {
	b.t.Helper()
	b.events = nil
	b.call(b.session, "Page.navigate", map[string]any{"url": "file://" + path}, nil)
	deadline := time.After(time.Minute)
	for {
		for _, e := range b.events {
			if e == "Page.loadEventFired" {
				return
			}
		}
		select {
		case m, ok := <-b.msgs:
			if !ok {
				b.t.Fatal("chromium closed the pipe while loading")
			}
			if m.Method != "" {
				b.events = append(b.events, m.Method)
			}
		case <-deadline:
			b.t.Fatalf("%s: no load event in a minute", path)
		}
	}
}

// eval evaluates a JavaScript expression in the page and decodes its
// (JSON-serialisable) value into v.
func (b *browser) eval(expr string, v any) {
	b.t.Helper()
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	b.call(b.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res)
	if res.ExceptionDetails != nil {
		b.t.Fatalf("evaluate: %s %s", res.ExceptionDetails.Text, res.ExceptionDetails.Exception.Description)
	}
	if v != nil {
		if err := json.Unmarshal(res.Result.Value, v); err != nil {
			b.t.Fatalf("evaluate: %v (value %s)", err, res.Result.Value)
		}
	}
}

// screenshot captures the top height pixels of the page at its viewport
// width as PNG.
func (b *browser) screenshot(width, height int) []byte {
	b.t.Helper()
	var res struct{ Data string }
	b.call(b.session, "Page.captureScreenshot", map[string]any{
		"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
	}, &res)
	png, err := base64.StdEncoding.DecodeString(res.Data)
	if err != nil {
		b.t.Fatal(fmt.Errorf("screenshot: %w", err))
	}
	return png
}
