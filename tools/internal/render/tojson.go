package render

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"sigs.k8s.io/kustomize/api/resource"
)

// toJSONMap returns a rendered resource as JSON-typed data (int64 for
// integers, float64 for other numbers), which the apimachinery helpers and
// CEL expect. It is what decoding rs.MarshalJSON() with apimachinery's JSON
// package gives, without the four encodings on the way (kyaml's
// MarshalJSON writes YAML, reads it back, writes JSON; then JSON is read):
// the YAML node tree is decoded once, then numbers are typed as that JSON
// round trip types them.
func toJSONMap(rs *resource.Resource) (map[string]any, error) {
	var m map[string]any
	if err := rs.YNode().Decode(&m); err != nil {
		return nil, fmt.Errorf("decode rendered object: %w", err)
	}
	if err := jsonTyped(m); err != nil {
		return nil, fmt.Errorf("decode rendered object: %w", err)
	}
	return m, nil
}

// errNonStringKey is a mapping key that is neither a string nor an
// integer, which JSON cannot hold.
var errNonStringKey = errors.New("json: unsupported value: a mapping key that is not a string or an integer")

// jsonTyped retypes, in place, the values YAML decoding gives (int, uint64,
// float64) as a JSON encode and decode would: an integer, or a float with
// an integral value that json.Marshal writes without exponent, is int64 if
// it fits, else float64; NaN and infinities cannot be encoded.
func jsonTyped(v any) error {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			n, err := jsonValue(e)
			if err != nil {
				return err
			}
			v[k] = n
		}
	case []any:
		for i, e := range v {
			n, err := jsonValue(e)
			if err != nil {
				return err
			}
			v[i] = n
		}
	}
	return nil
}

func jsonValue(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any, []any:
		return v, jsonTyped(v)
	case map[any]any:
		// YAML decoding gives this map when a key is not a string;
		// json.Marshal writes string and integer keys, and fails on others.
		m := make(map[string]any, len(v))
		for k, e := range v {
			switch k := k.(type) {
			case string:
				m[k] = e
			case int:
				m[strconv.Itoa(k)] = e
			case int64:
				m[strconv.FormatInt(k, 10)] = e
			case uint64:
				m[strconv.FormatUint(k, 10)] = e
			default:
				return nil, errNonStringKey
			}
		}
		return m, jsonTyped(m)
	case int:
		return int64(v), nil
	case int64:
		return v, nil
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v), nil
		}
		return float64(v), nil
	case time.Time:
		// json.Marshal's form of a time.
		return v.Format(time.RFC3339Nano), nil
	case float64:
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			return nil, fmt.Errorf("json: unsupported value: %v", v)
		case v == math.Trunc(v) && math.Abs(v) < 1e21:
			// json.Marshal writes it as an integer literal, which decodes
			// as int64 when it fits.
			if v >= math.MinInt64 && v < math.MaxInt64 {
				return int64(v), nil
			}
		}
		return v, nil
	}
	return v, nil
}
