package broker

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

// Reload applies each field of reloadable, and no other: every field of a
// plain kind is set alone to a value other than its default, reloaded, and
// read back.
func TestReloadAppliesItsListOnly(t *testing.T) {
	t.Parallel()
	kinds := map[reflect.Type]reflect.Value{
		reflect.TypeOf(0):                reflect.ValueOf(7),
		reflect.TypeOf(int64(0)):         reflect.ValueOf(int64(7 << 20)),
		reflect.TypeOf(uint16(0)):        reflect.ValueOf(uint16(7)),
		reflect.TypeOf(false):            reflect.ValueOf(true),
		reflect.TypeOf(""):               reflect.ValueOf("x/"),
		reflect.TypeOf(time.Duration(0)): reflect.ValueOf(7 * time.Second),
	}
	fields := reflect.TypeOf(Options{})
	for _, name := range reloadable {
		if _, ok := fields.FieldByName(name); !ok {
			t.Errorf("reloadable names %s, which Options lacks", name)
		}
	}
	for i := range fields.NumField() {
		f := fields.Field(i)
		value, ok := kinds[f.Type]
		if !ok {
			continue // the logger, authenticators, store: never reloaded
		}
		t.Run(f.Name, func(t *testing.T) {
			s := New(Options{})
			before := reflect.ValueOf(s.o().Options).Field(i).Interface()
			var opts Options
			reflect.ValueOf(&opts).Elem().Field(i).Set(value)
			s.Reload(opts)
			after := reflect.ValueOf(s.o().Options).Field(i).Interface()
			listed := slices.Contains(reloadable, f.Name)
			if changed := after != before; changed != listed {
				t.Errorf("%s: %v before, %v after a Reload setting %v; listed in reloadable: %v",
					f.Name, before, after, value, listed)
			}
		})
	}
}
