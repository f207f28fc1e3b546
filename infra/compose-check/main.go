// compose-check loads a compose file with compose-go, the loader Docker Compose itself uses:
// the Compose Specification's schema, interpolation, anchors and merges, and relative paths,
// exactly as `docker compose config` would. It prints the resolved project as JSON, or the
// loader's error and exit 1. Built by `npm run infra -- install`; the infra tests run it on
// docker-compose.yml, which cannot be run here (no Docker engine).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-check FILE")
		os.Exit(2)
	}
	if err := check(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func check(file string) error {
	options, err := cli.NewProjectOptions([]string{file}, cli.WithOsEnv, cli.WithName("check"))
	if err != nil {
		return err
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		return err
	}
	out, err := project.MarshalJSON()
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}
