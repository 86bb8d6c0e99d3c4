package web

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func multipartImport(t *testing.T, name string, file []byte, fields map[string]string) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(file)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	_ = mw.Close()
	req := httptest.NewRequest(http.MethodPost, "/import", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return req
}

func TestImportPage(t *testing.T) {
	e := newEnv(t, nil, sample(1, 3, "deadlift", 140, 3))
	if res, body := e.do(t, httptest.NewRequest(http.MethodGet, "/import", nil)); res.StatusCode != http.StatusOK ||
		!strings.Contains(body, `href="/export?format=csv"`) || !strings.Contains(body, "squat (barbell)") {
		t.Fatalf("import page: %d", res.StatusCode)
	}
	strong := []byte("Date,Workout Name,Exercise Name,Set Order,Weight,Reps,Seconds,Notes,Workout Notes,RPE\n" +
		"2026-11-15 18:00:00,Evening,Squat (Barbell),1,225,5,0,,,\n" +
		"2026-11-15 18:00:00,Evening,Squat (Barbell),2,225,5,0,,,\n" +
		"2026-11-15 18:00:00,Evening,Zercher Squat,1,100,5,0,,,\n")
	res, body := e.do(t, multipartImport(t, "strong.csv", strong, map[string]string{"unit": "lb", "tz": "America/New_York"}))
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "<strong>1 imported</strong>") || !strings.Contains(body, "Zercher Squat") {
		t.Fatalf("import: %d\n%s", res.StatusCode, body)
	}
	pub := e.pub.all()
	if len(pub) != 1 || pub[0].Unit != "lb" || len(pub[0].Sets) != 2 || pub[0].UserID != devUser {
		t.Fatalf("published %+v", pub)
	}
	// Again: nothing new is published.
	if res, body = e.do(t, multipartImport(t, "strong.csv", strong, map[string]string{"unit": "lb", "tz": "America/New_York"})); !strings.Contains(body, "1 already in your history") || len(e.pub.all()) != 1 {
		t.Errorf("second import: %d, %d published", res.StatusCode, len(e.pub.all()))
	}
	// Without the unit, nothing is imported.
	if res, _ = e.do(t, multipartImport(t, "strong.csv", strong, nil)); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("Strong file without a unit: %d", res.StatusCode)
	}
	// Refused: from another site, larger than the limit.
	req := multipartImport(t, "strong.csv", strong, map[string]string{"unit": "lb"})
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if res, _ = e.do(t, req); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site import: %d", res.StatusCode)
	}
	huge := bytes.Repeat([]byte("2026-11-15 18:00:00,Evening,Squat (Barbell),1,225,5,0,,,\n"), MaxImportBytes/50)
	if res, _ = e.do(t, multipartImport(t, "huge.csv", huge, map[string]string{"unit": "lb"})); res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("import over %d bytes: %d", MaxImportBytes, res.StatusCode)
	}
	if len(e.pub.all()) != 1 {
		t.Errorf("refused imports published %d", len(e.pub.all())-1)
	}
}

func TestExportNeedsAReadHistory(t *testing.T) {
	e := newEnv(t, nil, sample(1, 3, "deadlift", 140, 3))
	res, body := e.do(t, httptest.NewRequest(http.MethodGet, "/export?format=csv", nil))
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") || !strings.Contains(body, ",deadlift,kg,1,3,140,,") {
		t.Fatalf("export: %d %q\n%s", res.StatusCode, res.Header.Get("Content-Disposition"), body)
	}
	if res, _ = e.do(t, httptest.NewRequest(http.MethodGet, "/export?format=xml", nil)); res.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown format: %d", res.StatusCode)
	}
	e.rd.mu.Lock()
	e.rd.stale = true
	e.rd.mu.Unlock()
	if res, _ = e.do(t, httptest.NewRequest(http.MethodGet, "/api/v1/export?format=json", nil)); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("export of a history never read: %d, want 503", res.StatusCode)
	}
}
