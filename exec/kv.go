package exec

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/quant"
)

// kvCache holds each layer's keys and values for nCtx positions in the cache
// types. Keys are stored by position (row = one position's kvDim values);
// values are stored transposed (row = one of kvDim channels over all
// positions), as llama.cpp does without flash attention, so the weighted sum
// over positions is one dot product per channel.
type kvCache struct {
	kt, vt gguf.Type
	nCtx   int
	kvDim  int
	k, v   [][]byte // per layer
	n      int      // positions filled
}

func newKVCache(hp hparams, nCtx int, kt, vt gguf.Type) (*kvCache, error) {
	kvDim := hp.nHeadKV * hp.headDim
	kb, vb := int64(kt.BlockBytes()), int64(vt.BlockBytes())
	total := int64(hp.nLayer) * int64(nCtx) * int64(kvDim) * (kb + vb)
	if nCtx <= 0 || nCtx > 1<<24 || total > maxCacheBytes {
		return nil, fmt.Errorf("exec: KV cache of %d positions (%d bytes) is out of range", nCtx, total)
	}
	c := &kvCache{kt: kt, vt: vt, nCtx: nCtx, kvDim: kvDim,
		k: make([][]byte, hp.nLayer), v: make([][]byte, hp.nLayer)}
	for il := range c.k {
		c.k[il] = make([]byte, int64(nCtx)*int64(kvDim)*kb)
		c.v[il] = make([]byte, int64(nCtx)*int64(kvDim)*vb)
	}
	return c, nil
}

// kRow is the keys of one position and KV head.
func (c *kvCache) kRow(il, pos, head, headDim int) []byte {
	eb := int(c.kt.BlockBytes())
	off := (pos*c.kvDim + head*headDim) * eb
	return c.k[il][off : off+headDim*eb]
}

// vRow is channel ch of the values over positions [0, n).
func (c *kvCache) vRow(il, ch, n int) []byte {
	eb := int(c.vt.BlockBytes())
	off := ch * c.nCtx * eb
	return c.v[il][off : off+n*eb]
}

// store writes one position's keys and values of layer il.
func (c *kvCache) store(il, pos int, k, v []float32) {
	eb := int(c.kt.BlockBytes())
	off := pos * c.kvDim * eb
	// QuantizeAct of a float type is its plain conversion.
	_ = quant.QuantizeAct(c.kt, k, c.k[il][off:off+c.kvDim*eb])
	veb := int(c.vt.BlockBytes())
	for ch, x := range v {
		putElem(c.vt, c.v[il][(ch*c.nCtx+pos)*veb:], x)
	}
}

// putElem stores x at the start of b in float type t.
func putElem(t gguf.Type, b []byte, x float32) {
	switch t {
	case gguf.TypeF16:
		h := quant.F32ToF16(x)
		b[0], b[1] = byte(h), byte(h>>8)
	case gguf.TypeBF16:
		h := quant.F32ToBF16(x)
		b[0], b[1] = byte(h), byte(h>>8)
	default:
		binary.LittleEndian.PutUint32(b, math.Float32bits(x))
	}
}
