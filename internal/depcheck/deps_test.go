package depcheck

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRuntimeDoesNotImportGrpcGo(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-test", "./...")
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go list: %s", out)
	pkgs := strings.Fields(string(out))
	require.Greater(t, len(pkgs), 20, "go list returned too little to be the module's dependencies")
	var own int
	for _, p := range pkgs {
		require.False(t, p == "google.golang.org/grpc" || strings.HasPrefix(p, "google.golang.org/grpc/"),
			"the runtime module depends on %s", p)
		if strings.HasPrefix(p, "github.com/h2rpc/h2rpc/") {
			own++
		}
	}
	require.Greater(t, own, 10, "expected the module's own packages in the list")

	mod, err := exec.Command("go", "list", "-m", "all").CombinedOutput()
	require.NoError(t, err, "go list -m: %s", mod)
	require.NotContains(t, string(mod), "google.golang.org/grpc ", "go.mod requires grpc-go")
}
