package consumer

import (
	"encoding/json"
	"strings"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

func jsonBody(w workout.Workout) ([]byte, error) { return json.Marshal(w) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }
