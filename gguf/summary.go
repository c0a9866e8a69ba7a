package gguf

import "sort"

// TypeStat counts the tensors of one type and their bytes.
type TypeStat struct {
	Type    Type  `json:"-"`
	Tensors int   `json:"tensors"`
	Bytes   int64 `json:"bytes"`
}

// TypeStats is the quantization mix: one entry per tensor type, largest first.
func (f *File) TypeStats() []TypeStat {
	idx := map[Type]int{}
	var out []TypeStat
	for i := range f.Tensors {
		t := &f.Tensors[i]
		k, ok := idx[t.Type]
		if !ok {
			k = len(out)
			idx[t.Type] = k
			out = append(out, TypeStat{Type: t.Type})
		}
		out[k].Tensors++
		out[k].Bytes += t.Size
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Bytes != out[b].Bytes {
			return out[a].Bytes > out[b].Bytes
		}
		return out[a].Type < out[b].Type
	})
	return out
}

// LayerBytes returns the tensor bytes of each repeating layer, indexed by
// layer number; its length is the larger of block_count and the highest
// layer index seen plus one.
func (f *File) LayerBytes() []int64 {
	n := f.HParams().BlockCount
	for i := range f.Tensors {
		n = max(n, f.Tensors[i].Layer+1)
	}
	out := make([]int64, n)
	for i := range f.Tensors {
		if l := f.Tensors[i].Layer; l >= 0 {
			out[l] += f.Tensors[i].Size
		}
	}
	return out
}

// GroupBytes is the total size of the tensors in group g.
func (f *File) GroupBytes(g Group) int64 {
	var n int64
	for i := range f.Tensors {
		if f.Tensors[i].Group() == g {
			n += f.Tensors[i].Size
		}
	}
	return n
}
