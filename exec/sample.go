package exec

import (
	"math"
	"math/rand/v2"
	"sort"
)

// SampleOptions choose the next token from the logits. The zero value is
// greedy decoding. The stages run in llama.cpp's default order: repetition
// penalty, top-k, top-p, min-p, temperature, then a draw.
type SampleOptions struct {
	Temperature   float32 // <= 0: greedy (argmax)
	TopK          int     // keep the K most likely tokens; <= 0 keeps all
	TopP          float32 // keep the smallest set with this much probability; 0 or >= 1 keeps all
	MinP          float32 // drop tokens below MinP times the top probability; 0 keeps all
	RepeatPenalty float32 // divide positive (multiply negative) logits of recent tokens; 0 or 1 is off
	RepeatLastN   int     // how many recent tokens the penalty looks at; 0 means 64
	Seed          uint64  // the draw's seed: the same seed gives the same text
}

// sampler draws tokens reproducibly.
type sampler struct {
	opt  SampleOptions
	rng  *rand.Rand
	cand []cand
}

type cand struct {
	id int32
	l  float32
}

func newSampler(o SampleOptions) *sampler {
	if o.RepeatLastN == 0 {
		o.RepeatLastN = 64
	}
	return &sampler{opt: o, rng: rand.New(rand.NewPCG(o.Seed, 0x6d6f64656c666974))}
}

// argmax is the first index of the largest logit.
func argmax(l []float32) int32 {
	best := 0
	for i, v := range l {
		if v > l[best] {
			best = i
		}
	}
	return int32(best)
}

// sample picks a token from logits (modified in place by the penalty) given
// the tokens seen so far.
func (s *sampler) sample(logits []float32, history []int32) int32 {
	o := &s.opt
	if o.RepeatPenalty > 0 && o.RepeatPenalty != 1 {
		seen := map[int32]bool{}
		for _, id := range history[max(0, len(history)-o.RepeatLastN):] {
			if seen[id] || int(id) >= len(logits) || id < 0 {
				continue
			}
			seen[id] = true
			if logits[id] > 0 {
				logits[id] /= o.RepeatPenalty
			} else {
				logits[id] *= o.RepeatPenalty
			}
		}
	}
	if o.Temperature <= 0 {
		return argmax(logits)
	}
	c := s.cand[:0]
	for i, l := range logits {
		c = append(c, cand{int32(i), l})
	}
	sort.SliceStable(c, func(i, j int) bool { return c[i].l > c[j].l })
	if o.TopK > 0 && o.TopK < len(c) {
		c = c[:o.TopK]
	}
	probs := softmaxCand(c, 1)
	if o.TopP > 0 && o.TopP < 1 {
		var cum float64
		for i, p := range probs {
			cum += p
			if cum >= float64(o.TopP) {
				c, probs = c[:i+1], probs[:i+1]
				break
			}
		}
	}
	if o.MinP > 0 {
		lim := float64(o.MinP) * probs[0]
		n := 1
		for n < len(probs) && probs[n] >= lim {
			n++
		}
		c = c[:n]
	}
	probs = softmaxCand(c, o.Temperature)
	s.cand = c
	r := s.rng.Float64()
	var cum float64
	for i, p := range probs {
		cum += p
		if r < cum {
			return c[i].id
		}
	}
	return c[len(c)-1].id
}

// softmaxCand is the probabilities of sorted candidates at temperature temp.
func softmaxCand(c []cand, temp float32) []float64 {
	p := make([]float64, len(c))
	var sum float64
	for i, x := range c {
		p[i] = math.Exp(float64((x.l - c[0].l) / temp))
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}
