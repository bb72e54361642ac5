package debian

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeRecipe stands for build.sh: it writes the files of an image, counts its runs in a file next
// to the cache, and fails when told to.
const fakeRecipe = `set -eu
out=$1
echo run >>"$out/../runs"
[ -e "$out/../fail" ] && exit 3
sleep 0.2
for f in vmlinuz initrd.img root.img; do echo "$f" >"$out/$f"; done
echo 6.1.0-57-amd64 >"$out/release"
echo 5f1d5c2e-6a55-4d1e-9c11-6d7061746864 >"$out/root-uuid"
`

func fakeVersion(t *testing.T, v string) {
	old := mmdebstrapVersion
	mmdebstrapVersion = func() ([]byte, error) { return []byte(v + "\n"), nil }
	t.Cleanup(func() { mmdebstrapVersion = old })
}

func runs(t *testing.T, cache string) int {
	b, err := os.ReadFile(filepath.Join(cache, "runs"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "run\n")
}

// entries are the cache's image directories and builds in progress (not the lock files).
func entries(cache string) []string {
	var e []string
	all, _ := filepath.Glob(filepath.Join(cache, "debian12-*"))
	for _, p := range all {
		if !strings.HasSuffix(p, ".lock") {
			e = append(e, p)
		}
	}
	return e
}

// TestEnsureBuildsOnce: concurrent callers (each with its own lock file descriptor, as separate
// processes have) get one build between them, renamed into place complete, and the next call is a
// cache hit.
func TestEnsureBuildsOnce(t *testing.T) {
	fakeVersion(t, "mmdebstrap 1.3.5")
	cache := t.TempDir()
	var wg sync.WaitGroup
	imgs := make([]*Image, 4)
	errs := make([]error, 4)
	for i := range imgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			imgs[i], errs[i] = ensure(context.Background(), cache, []byte(fakeRecipe), false, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
		if imgs[i].Dir != imgs[0].Dir {
			t.Errorf("caller %d got %s, caller 0 %s", i, imgs[i].Dir, imgs[0].Dir)
		}
	}
	if n := runs(t, cache); n != 1 {
		t.Errorf("the recipe ran %d times, want 1", n)
	}
	img := imgs[0]
	if img.Release != "6.1.0-57-amd64" || img.RootUUID != "5f1d5c2e-6a55-4d1e-9c11-6d7061746864" {
		t.Errorf("image release %q uuid %q", img.Release, img.RootUUID)
	}
	if _, err := os.Stat(filepath.Join(img.Dir, "build.log")); err != nil {
		t.Errorf("no build log kept: %v", err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(cache, "*.tmp-*")); len(tmp) != 0 {
		t.Errorf("temporary build directories left: %v", tmp)
	}
	if _, err := ensure(context.Background(), cache, []byte(fakeRecipe), false, nil); err != nil {
		t.Fatal(err)
	}
	if n := runs(t, cache); n != 1 {
		t.Errorf("a cached image was rebuilt (%d runs)", n)
	}
}

// TestEnsureKeyedByRecipe: a changed recipe or mmdebstrap version is a different image, and the
// older entry is pruned once the new one is in place.
func TestEnsureKeyedByRecipe(t *testing.T) {
	fakeVersion(t, "mmdebstrap 1.3.5")
	cache := t.TempDir()
	a, err := ensure(context.Background(), cache, []byte(fakeRecipe), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	fakeVersion(t, "mmdebstrap 1.4.0")
	b, err := ensure(context.Background(), cache, []byte(fakeRecipe), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ensure(context.Background(), cache, []byte(fakeRecipe+"# one more package\n"), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Dir == b.Dir || b.Dir == c.Dir || a.Dir == c.Dir {
		t.Errorf("entries %s %s %s, want three different keys", a.Dir, b.Dir, c.Dir)
	}
	if n := runs(t, cache); n != 3 {
		t.Errorf("%d builds, want 3", n)
	}
	for _, old := range []string{a.Dir, b.Dir} {
		if _, err := os.Stat(old); !os.IsNotExist(err) {
			t.Errorf("old entry %s not pruned (%v)", old, err)
		}
	}
	if _, err := os.Stat(c.Root); err != nil {
		t.Errorf("current entry: %v", err)
	}
}

// TestEnsureFailedBuildLeavesNothing: a failed build reports its log and leaves neither an entry
// nor a temporary directory, so the next call builds again.
func TestEnsureFailedBuildLeavesNothing(t *testing.T) {
	fakeVersion(t, "mmdebstrap 1.3.5")
	cache := t.TempDir()
	if err := os.WriteFile(filepath.Join(cache, "fail"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ensure(context.Background(), cache, []byte(fakeRecipe), false, nil)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("err = %v, want the build's exit status", err)
	}
	if left := entries(cache); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	os.Remove(filepath.Join(cache, "fail"))
	if _, err := ensure(context.Background(), cache, []byte(fakeRecipe), false, nil); err != nil {
		t.Fatal(err)
	}
	if n := runs(t, cache); n != 2 {
		t.Errorf("%d runs, want 2 (the failure, then the build)", n)
	}
}

// TestEnsureIncompleteBuildRefused: a recipe that exits 0 without every file is not cached.
func TestEnsureIncompleteBuildRefused(t *testing.T) {
	fakeVersion(t, "mmdebstrap 1.3.5")
	cache := t.TempDir()
	_, err := ensure(context.Background(), cache, []byte("echo vmlinuz >\"$1/vmlinuz\"\n"), false, nil)
	if err == nil || !strings.Contains(err.Error(), "no complete image") {
		t.Fatalf("err = %v, want no complete image", err)
	}
	if left := entries(cache); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
