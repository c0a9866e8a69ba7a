package procgroup

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     Paths
	}{
		{"v2 only", "0::/user.slice/session-1.scope\n", Paths{V2: "/user.slice/session-1.scope", HasV2: true, V1: map[string]string{}}},
		{"v2 root", "0::/\n", Paths{V2: "/", HasV2: true, V1: map[string]string{}}},
		{"v1", "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/init.scope\n",
			Paths{V1: map[string]string{"memory": "/docker/abc", "cpu": "/docker/abc", "cpuacct": "/docker/abc", "name=systemd": "/init.scope"}}},
		{"hybrid", "5:memory:/a\n0::/b\n", Paths{V2: "/b", HasV2: true, V1: map[string]string{"memory": "/a"}}},
		{"path with colons, no final newline", "3:memory:/a:b", Paths{V1: map[string]string{"memory": "/a:b"}}},
		{"junk", "garbage\n\n9:\n", Paths{V1: map[string]string{}}},
		{"empty", "", Paths{V1: map[string]string{}}},
	} {
		if got := Parse([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Parse = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
