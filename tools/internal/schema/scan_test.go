package schema

import (
	"slices"
	"testing"
)

func TestSplitDocs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a: 1\n", []string{"a: 1\n"}},
		{"---\na: 1\n---\nb: 2\n", []string{"", "a: 1\n", "b: 2\n"}},
		{"a: 1\n--- \t\r\nb: 2", []string{"a: 1\n", "b: 2"}},
		// Not separators: a longer line, an indented one, a document marker with content.
		{"a: |\n  ---\n----\n--- x\n", []string{"a: |\n  ---\n----\n--- x\n"}},
		{"a: 1\n---", []string{"a: 1\n"}},
	}
	for _, tt := range tests {
		if got := SplitDocuments(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("SplitDocuments(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLineValue(t *testing.T) {
	doc := "kind: CustomResourceDefinition\nspec:\n  group: \"example.com\"\n  names:\n    kind: 'Widget' # comment\n    listKind: WidgetList\n"
	for prefix, want := range map[string]string{
		"  group: ":    "example.com",
		"    kind: ":   "Widget",
		"kind: ":       "CustomResourceDefinition",
		"    plural: ": "",
	} {
		if got := lineValue(doc, prefix); got != want {
			t.Errorf("lineValue(%q) = %q, want %q", prefix, got, want)
		}
	}
}
