package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Flag groups, in the order the help prints them.
const (
	groupModel   = "model"   // llama.cpp's settings for running the model
	groupMemory  = "memory"  // loading mode and what the planner may change
	groupMachine = "machine" // the machine to plan for
	groupHosts   = "hosts"   // other machines over llama.cpp's RPC
	groupGen     = "generation"
	groupOutput  = "output"
	groupServer  = "llama-server" // the commands that start llama-server
	groupNetwork = "network"
)

var groupOrder = []string{groupModel, groupMemory, groupMachine, groupHosts, groupGen, groupServer, groupOutput, groupNetwork}

// flagSpec is one flag of a command: its names (with their dashes, as the
// help prints them: llama.cpp's short names take one dash), the group it is
// listed under, the placeholder of its value, and one line of help.
type flagSpec struct {
	names []string
	group string
	arg   string // "N", "SIZE", …; empty for a switch
	usage string
	def   string // shown as "(default …)" when not empty
}

// flagSet is one command's table of flags over the standard flag package
// (which takes llama.cpp's -ngl 20 and --ctx-size 4096 alike). Every
// subcommand builds its table with the same helpers, so aliases, groups,
// help and usage errors behave the same everywhere.
type flagSet struct {
	cmd      string // "plan", "plan run", …
	synopsis []string
	about    string
	fs       *flag.FlagSet
	specs    []*flagSpec
	// extra is printed after the flags (the command list of `plan -h`).
	extra func(w io.Writer)
}

func newFlagSet(cmd, about string, synopsis ...string) *flagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{cmd: cmd, synopsis: synopsis, about: about, fs: fs}
}

// add registers v under every name of the flag.
func (s *flagSet) add(v flag.Value, group, arg, usage string, names ...string) {
	sp := &flagSpec{group: group, arg: arg, usage: usage}
	for _, n := range names {
		s.fs.Var(v, strings.TrimLeft(n, "-"), usage)
		sp.names = append(sp.names, n)
	}
	if d := v.String(); d != "" && d != "false" && arg != "" {
		sp.def = d
	}
	s.specs = append(s.specs, sp)
}

func (s *flagSet) intVar(p *int, def int, group, arg, usage string, names ...string) {
	*p = def
	s.add((*intValue)(p), group, arg, usage, names...)
}

func (s *flagSet) stringVar(p *string, def, group, arg, usage string, names ...string) {
	*p = def
	s.add((*stringValue)(p), group, arg, usage, names...)
}

func (s *flagSet) boolVar(p *bool, group, usage string, names ...string) {
	s.add((*boolValue)(p), group, "", usage, names...)
}

func (s *flagSet) floatVar(p *float64, def float64, group, arg, usage string, names ...string) {
	*p = def
	s.add((*floatValue)(p), group, arg, usage, names...)
}

func (s *flagSet) durationVar(p *time.Duration, def time.Duration, group, usage string, names ...string) {
	*p = def
	s.add((*durationValue)(p), group, "DURATION", usage, names...)
}

// given reports whether any of the names was on the command line.
func (s *flagSet) given(names ...string) bool {
	found := false
	s.fs.Visit(func(f *flag.Flag) {
		for _, n := range names {
			if f.Name == strings.TrimLeft(n, "-") {
				found = true
			}
		}
	})
	return found
}

// parse parses args (flags may follow the positional arguments). ok is false
// when the command is done: help was asked for (printed on stdout, exit 0)
// or the flags were wrong (one line on stderr saying what, exit 2).
func (s *flagSet) parse(args []string, stdout, stderr io.Writer) (code int, ok bool) {
	// A value flag last on the line lacks its value (moved before the
	// positional arguments, it would take one of them).
	if n := len(args); n > 0 && strings.HasPrefix(args[n-1], "-") && !strings.Contains(args[n-1], "=") {
		if f := s.fs.Lookup(strings.TrimLeft(args[n-1], "-")); f != nil {
			if bf, isBool := f.Value.(interface{ IsBoolFlag() bool }); !isBool || !bf.IsBoolFlag() {
				return s.usageError(stderr, "%s", s.explain(fmt.Errorf("flag needs an argument: -%s", f.Name))), false
			}
		}
	}
	err := s.fs.Parse(reorderFlags(s.fs, args))
	switch {
	case errors.Is(err, flag.ErrHelp):
		s.help(stdout)
		return ExitOK, false
	case err != nil:
		return s.usageError(stderr, "%s", s.explain(err)), false
	}
	return 0, true
}

// explain rewrites the flag package's errors with the flag spelled as the
// help spells it (--ctx-size, -ngl).
func (s *flagSet) explain(err error) string {
	msg := err.Error()
	for _, sp := range s.specs {
		for _, n := range sp.names {
			bare := " -" + strings.TrimLeft(n, "-")
			if strings.HasSuffix(msg, bare) || strings.Contains(msg, bare+":") {
				return strings.Replace(msg, bare, " "+n, 1)
			}
		}
	}
	return msg
}

// usageError prints what was wrong as the first line, then where the help
// is, and returns ExitUsage.
func (s *flagSet) usageError(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "%s: %s\n", s.cmd, fmt.Sprintf(format, args...))
	fmt.Fprintf(stderr, "run '%s -h' for the flags\n", s.cmd)
	return ExitUsage
}

// help prints the synopsis, what the command does and its flags, one entry
// per flag with its aliases on its first line, by group, in textWidth columns.
func (s *flagSet) help(w io.Writer) {
	for i, syn := range s.synopsis {
		lead := "usage: "
		if i > 0 {
			lead = "       "
		}
		fmt.Fprintln(w, lead+syn)
	}
	if s.about != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, s.about)
	}
	if s.extra != nil {
		s.extra(w)
	}
	lefts := make([]string, len(s.specs))
	width := 0
	for i, sp := range s.specs {
		lefts[i] = strings.Join(sp.names, ", ")
		if sp.arg != "" {
			lefts[i] += " " + sp.arg
		}
		width = max(width, len(lefts[i]))
	}
	width = min(width, 30)
	for _, g := range groupOrder {
		first := true
		for i, sp := range s.specs {
			if sp.group != g {
				continue
			}
			if first {
				fmt.Fprintf(w, "\n%s flags:\n", g)
				first = false
			}
			usage := sp.usage
			if sp.def != "" {
				usage += " (default " + sp.def + ")"
			}
			for _, l := range wrapText(usage, fmt.Sprintf("  %-*s  ", width, lefts[i]), strings.Repeat(" ", width+4), textWidth) {
				fmt.Fprintln(w, l)
			}
		}
	}
}

// The values: the flag package's own, with errors that say what is wanted.

type intValue int

func (v *intValue) String() string {
	if v == nil || *v == 0 {
		return ""
	}
	return strconv.Itoa(int(*v))
}

func (v *intValue) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 0, 64)
	if err != nil {
		if ne := (*strconv.NumError)(nil); errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return fmt.Errorf("%s is out of range", s)
		}
		return fmt.Errorf("want a whole number")
	}
	*v = intValue(n)
	return nil
}

type stringValue string

func (v *stringValue) String() string {
	if v == nil {
		return ""
	}
	return string(*v)
}
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

type boolValue bool

func (v *boolValue) String() string {
	if v != nil && *v {
		return "true"
	}
	return "false"
}

func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	*v = boolValue(b)
	return nil
}
func (v *boolValue) IsBoolFlag() bool { return true }

type floatValue float64

func (v *floatValue) String() string {
	if v == nil || *v == 0 {
		return ""
	}
	return strconv.FormatFloat(float64(*v), 'f', -1, 64)
}

func (v *floatValue) Set(s string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return errors.New("want a number")
	}
	*v = floatValue(f)
	return nil
}

type durationValue time.Duration

func (v *durationValue) String() string {
	if v == nil || *v == 0 {
		return ""
	}
	return time.Duration(*v).String()
}

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		// A bare number is seconds, as curl's --max-time.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f < 0 {
			return errors.New("want a duration such as 30s or 2m")
		}
		d = time.Duration(f * float64(time.Second))
	}
	if d < 0 {
		return errors.New("want a positive duration")
	}
	*v = durationValue(d)
	return nil
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

type uint64Value uint64

func (v *uint64Value) String() string {
	if v == nil || *v == 0 {
		return ""
	}
	return strconv.FormatUint(uint64(*v), 10)
}

func (v *uint64Value) Set(s string) error {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 0, 64)
	if err != nil {
		return errors.New("want a whole number of 0 or more")
	}
	*v = uint64Value(n)
	return nil
}
