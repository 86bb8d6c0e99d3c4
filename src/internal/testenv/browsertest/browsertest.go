// Package browsertest starts Debian's headless Chromium for the browser
// tests and keeps their screenshots.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// Start starts headless Chromium with a window of width × height pixels,
// with its own profile and no background traffic, and returns the browser's
// context; the browser stops when the test ends. scripts/install-deps.sh
// installs Chromium, so under CI a missing browser fails the test.
func Start(t *testing.T, width, height int) context.Context {
	t.Helper()
	exe := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			exe = p
			break
		}
	}
	if exe == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed (scripts/install-deps.sh)")
		}
		t.Skip("chromium is not installed (apt-get install -y chromium chromium-driver)")
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		// Chromium makes its singleton socket's directory in TMPDIR and
		// leaves it behind when it is stopped: in the test's directory
		// it goes with it.
		chromedp.Env("TMPDIR="+t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelBrowser)
	return browser
}

// Artifacts is the directory for a test's screenshots: $TEST_ARTIFACTS/sub
// when TEST_ARTIFACTS is set (kept), else the test's temporary directory.
func Artifacts(t *testing.T, sub string) string {
	t.Helper()
	a := os.Getenv("TEST_ARTIFACTS")
	if a == "" {
		return t.TempDir()
	}
	d := filepath.Join(a, sub)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// Screenshot saves a full-page PNG of the current page as dir/name.
func Screenshot(t *testing.T, dir, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, tg) // quality 100: PNG
		if err != nil {
			return err
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			return err
		}
		t.Logf("screenshot: %s", p)
		return nil
	})
}
