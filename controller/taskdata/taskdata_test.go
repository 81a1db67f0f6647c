package taskdata

import (
	"bytes"
	"testing"
)

func TestPayload(t *testing.T) {
	for _, size := range []int64{0, 1, 63, 64, 1000, 3<<20 + 7} {
		a := Payload("seed", size)
		if int64(len(a)) != size {
			t.Fatalf("len = %d, want %d", len(a), size)
		}
		var buf bytes.Buffer
		if err := WritePayload(&buf, "seed", size); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, buf.Bytes()) {
			t.Fatalf("size %d: streamed payload differs", size)
		}
	}
	if bytes.Equal(Payload("a", 64), Payload("b", 64)) {
		t.Fatal("different seeds give equal payloads")
	}
}

func TestInputsHash(t *testing.T) {
	a := Inputs{Workflow: map[string]string{"x": "1", "y": "2"}, Item: -1, Upstream: []Upstream{
		{Node: "n1", Key: "ns/e1/n1/1/outputs", Bytes: 3, SHA256: "aa"},
		{Node: "n0", Key: "ns/e1/n0/1/outputs", Bytes: 3, SHA256: "bb"},
	}}
	b := Inputs{Workflow: map[string]string{"y": "2", "x": "1"}, Item: -1, Upstream: []Upstream{
		{Node: "n0", Key: "ns/e2/n0/2/outputs", Bytes: 3, SHA256: "bb"},
		{Node: "n1", Key: "ns/e2/n1/1/outputs", Bytes: 3, SHA256: "aa"},
	}}
	if a.Hash() != b.Hash() {
		t.Fatal("hash depends on order or location")
	}
	c := b
	c.Upstream = append([]Upstream(nil), b.Upstream...)
	c.Upstream[0].SHA256 = "cc"
	if a.Hash() == c.Hash() {
		t.Fatal("hash ignores content")
	}
	if ItemHash(a.Hash(), 1) == ItemHash(a.Hash(), 2) {
		t.Fatal("items share a hash")
	}
}
