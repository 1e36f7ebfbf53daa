package resolver

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fakeBuilder struct{ scheme string }

func (b fakeBuilder) Build(Target, ClientConn, BuildOptions) (Resolver, error) { return nil, nil }
func (b fakeBuilder) Scheme() string                                           { return b.scheme }

// registerForTest registers builders for the duration of the test and
// restores whatever was registered before.
func registerForTest(t *testing.T, schemes ...string) {
	t.Helper()
	for _, s := range schemes {
		prev := Get(s)
		Register(fakeBuilder{s})
		t.Cleanup(func() {
			if prev != nil {
				Register(prev)
			} else {
				Unregister(s)
			}
		})
	}
}

func TestParseTarget(t *testing.T) {
	registerForTest(t, "dns", "passthrough", "custom")
	pt := func(endpoint string) Target { return Target{Scheme: "passthrough", Endpoint: endpoint} }
	tests := []struct {
		target string
		want   Target
	}{
		// scheme://authority/endpoint
		{"dns:///localhost:50051", Target{"dns", "", "localhost:50051"}},
		{"dns://8.8.8.8/foo.com:443", Target{"dns", "8.8.8.8", "foo.com:443"}},
		{"dns://8.8.8.8:53/foo.com:443", Target{"dns", "8.8.8.8:53", "foo.com:443"}},
		{"dns://[2001:db8::1]:53/foo.com", Target{"dns", "[2001:db8::1]:53", "foo.com"}},
		{"dns:///[::1]:50051", Target{"dns", "", "[::1]:50051"}},
		{"passthrough:///1.2.3.4:5", Target{"passthrough", "", "1.2.3.4:5"}},
		{"passthrough:///unix:///tmp/sock", Target{"passthrough", "", "unix:///tmp/sock"}},
		{"custom:///a/b/c", Target{"custom", "", "a/b/c"}},
		{"dns://8.8.8.8", Target{"dns", "8.8.8.8", ""}},
		{"dns:///", Target{"dns", "", ""}},
		// Scheme is case-insensitive and comes out lower case.
		{"DNS:///foo.com", Target{"dns", "", "foo.com"}},
		// Without the double slash: no authority.
		{"dns:foo.com:443", Target{"dns", "", "foo.com:443"}},
		{"dns:/foo.com:443", Target{"dns", "", "foo.com:443"}},
		{"dns:", Target{"dns", "", ""}},
		// URI syntax: escapes decoded, query and fragment dropped.
		{"dns:///foo%2ebar.com", Target{"dns", "", "foo.bar.com"}},
		{"dns:///foo.com?x=1", Target{"dns", "", "foo.com"}},
		{"dns:///foo.com#frag", Target{"dns", "", "foo.com"}},
		// No scheme, or not a URI: passthrough with the whole target.
		{"localhost:50051", pt("localhost:50051")},
		{"localhost", pt("localhost")},
		{"foo.com", pt("foo.com")},
		{"1.2.3.4:5", pt("1.2.3.4:5")},
		{"[::1]:50051", pt("[::1]:50051")},
		{"::1", pt("::1")},
		{"/just/a/path", pt("/just/a/path")},
		{":8080", pt(":8080")},
		// Unregistered scheme: passthrough with the whole target.
		{"unix:///tmp/sock", pt("unix:///tmp/sock")},
		{"xds:///svc", pt("xds:///svc")},
		{"foo%zz:80", pt("foo%zz:80")},
		{"dns:///foo%zz", pt("dns:///foo%zz")},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			got, err := ParseTarget(tt.target)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseTargetErrors(t *testing.T) {
	for _, target := range []string{"", "foo\x00.com", "dns:///foo\n.com", "a\x7f"} {
		_, err := ParseTarget(target)
		assert.Error(t, err, "%q", target)
	}
}

func TestTargetString(t *testing.T) {
	registerForTest(t, "dns")
	for _, s := range []string{"dns:///localhost:50051", "dns://8.8.8.8/foo.com:443"} {
		tgt, err := ParseTarget(s)
		require.NoError(t, err)
		assert.Equal(t, s, tgt.String())
	}
	tgt, err := ParseTarget("localhost:1")
	require.NoError(t, err)
	assert.Equal(t, "passthrough:///localhost:1", tgt.String())
}

func TestRegistry(t *testing.T) {
	assert.Nil(t, Get("no-such-scheme"))
	registerForTest(t, "Mixed")
	assert.Equal(t, fakeBuilder{"Mixed"}, Get("mixed"))
	assert.Equal(t, fakeBuilder{"Mixed"}, Get("MIXED"))

	Register(fakeBuilder{"mixed"}) // replaces
	assert.Equal(t, fakeBuilder{"mixed"}, Get("Mixed"))

	Unregister("MiXeD")
	assert.Nil(t, Get("mixed"))
}

func TestParseTargetFollowsRegistry(t *testing.T) {
	got, err := ParseTarget("late:///x")
	require.NoError(t, err)
	assert.Equal(t, Target{Scheme: "passthrough", Endpoint: "late:///x"}, got)

	registerForTest(t, "late")
	got, err = ParseTarget("late:///x")
	require.NoError(t, err)
	assert.Equal(t, Target{Scheme: "late", Endpoint: "x"}, got)
}
