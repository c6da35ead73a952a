package nomos

import (
	"regexp"
	"strconv"
	"strings"
)

// A semantic version as github.com/Masterminds/semver v1 parses it (a leading v, minor and patch optional), enough
// to tell whether a ConfigManagement version has the Syncing condition.

var semverPattern = regexp.MustCompile(`^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?` +
	`(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?` +
	`(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$`)

type semver struct {
	major, minor, patch int64
	pre                 string
}

func parseSemver(v string) (semver, bool) {
	m := semverPattern.FindStringSubmatch(v)
	if m == nil {
		return semver{}, false
	}
	var s semver
	var err error
	if s.major, err = strconv.ParseInt(m[1], 10, 64); err != nil {
		return semver{}, false
	}
	if m[2] != "" {
		if s.minor, err = strconv.ParseInt(strings.TrimPrefix(m[2], "."), 10, 64); err != nil {
			return semver{}, false
		}
	}
	if m[3] != "" {
		if s.patch, err = strconv.ParseInt(strings.TrimPrefix(m[3], "."), 10, 64); err != nil {
			return semver{}, false
		}
	}
	s.pre = m[5]
	return s, true
}

func (v semver) lessThan(o semver) bool { return v.compare(o) < 0 }

func (v semver) compare(o semver) int {
	for _, d := range [][2]int64{{v.major, o.major}, {v.minor, o.minor}, {v.patch, o.patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case v.pre == "" && o.pre == "":
		return 0
	case v.pre == "":
		return 1
	case o.pre == "":
		return -1
	}
	a, b := strings.Split(v.pre, "."), strings.Split(o.pre, ".")
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := comparePrePart(a[i], b[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

func comparePrePart(a, b string) int {
	ai, aErr := strconv.ParseUint(a, 10, 64)
	bi, bErr := strconv.ParseUint(b, 10, 64)
	switch {
	case aErr == nil && bErr == nil:
		switch {
		case ai < bi:
			return -1
		case ai > bi:
			return 1
		}
		return 0
	case aErr == nil:
		return -1
	case bErr == nil:
		return 1
	}
	return strings.Compare(a, b)
}
