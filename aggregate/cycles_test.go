package aggregate

import (
	"testing"
	"time"
)

// TestParentCycles: a span file whose parents loop (a span its own parent,
// or two spans each other's) used to hang ByWorkflow and roundOf.
func TestParentCycles(t *testing.T) {
	tests := []struct{ name, json string }{
		{"own parent", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"AQID","parentSpanId":"AQID","name":"x"}]}]}]}`},
		{"each other's", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"AQID","parentSpanId":"BAUG","name":"x"},{"spanId":"BAUG","parentSpanId":"AQID","name":"y"}]}]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spans, err := DecodeOTLP([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() {
				ByWorkflow(spans)
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("ByWorkflow does not end")
			}
		})
	}
}
