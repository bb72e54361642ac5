package mpathcompat

import (
	"testing"

	"github.com/mpathd/mpathd/pkg/api/apitest"
)

// BenchmarkRender measures the renderers alone on 1,024 maps of 4 paths.
func BenchmarkRender(b *testing.B) {
	f := apitest.New(apitest.Generate(1024, 2, 2))
	s := &Server{Service: f}
	for _, cmd := range []string{"show status", "show maps json", "show paths", "show topology"} {
		b.Run(cmd, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Execute(b.Context(), cmd, false)
			}
		})
	}
}

// BenchmarkMapsJSONFresh renders every map, as the cache does for maps that changed.
func BenchmarkMapsJSONFresh(b *testing.B) {
	t := apitest.Generate(1024, 2, 2)
	b.ReportAllocs()
	for b.Loop() {
		MapsJSON(t)
	}
}
