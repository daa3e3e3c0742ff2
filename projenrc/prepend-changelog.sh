#!/bin/sh
# prepend-changelog.sh VERSION_FILE SECTION_FILE CHANGELOG: the last step of `npx projen release`.
# `bump` wrote the new version to VERSION_FILE and its changelog section to SECTION_FILE; the section
# goes on top of the committed CHANGELOG (under its title and intro) unless CHANGELOG already has a
# heading for that version: a second run without a new release leaves the file as it is.
set -eu
version_file=$1 section=$2 changelog=$3

# `bump` is skipped when HEAD is a "chore(release):" commit: then there is nothing to add.
if [ ! -f "$version_file" ]; then
  echo "prepend-changelog: no $version_file (bump did not run); $changelog unchanged"
  exit 0
fi
version=$(cat "$version_file")
# commit-and-tag-version writes "## 0.1.0 (date)" or "## [0.1.1](compare-url) (date)".
escaped=$(printf '%s' "$version" | sed 's/[.]/\\./g')
if grep -Eq "^#+ \[?$escaped\]?[ (]" "$changelog"; then
  echo "prepend-changelog: $changelog already has $version; unchanged"
  exit 0
fi
if ! grep -Eq "^#+ \[?$escaped\]?[ (]" "$section"; then
  echo "prepend-changelog: $section has no heading for $version" >&2
  exit 1
fi

# Everything before the first "## " heading is the title and intro; the new section goes after it.
tmp="$changelog.tmp.$$"
awk -v section="$section" '
  function emit(separate,  line, started) {
    while ((getline line < section) > 0) if (started || line != "") { print line; started = 1 }
    if (separate) print ""
    done = 1
  }
  !done && /^## / { emit(1) }
  { print }
  END { if (!done) { print ""; emit(0) } }
' "$changelog" > "$tmp"
mv "$tmp" "$changelog"
echo "prepend-changelog: added $version to $changelog"
