#!/bin/sh
# Build the tcp-chat RPM from this checkout (or from an sdist) with rpmbuild.
#
# usage: packaging/build-rpm.sh [--topdir DIR] [--outdir DIR] [--source SDIST] [--dist el8|el9]
#                               [--python PATH] [rpmbuild options, e.g. --without tests]
#
#   --topdir DIR    rpmbuild's work tree (default: build/rpmbuild)
#   --outdir DIR    where the finished .rpm is copied (default: dist)
#   --source SDIST  build from this sdist (tcp_chat-VERSION.tar.gz) instead of the checkout
#   --dist elN      name and build as on EL N (%dist .elN, %rhel N); on EL itself the dist tag
#                   comes from the system and this is not needed
#   --python PATH   interpreter used while building (site-packages path, man pages, %check);
#                   it must be the version the target runs (3.12 for el8, the platform python3
#                   otherwise). Default: /usr/bin/python3.12 for el8, /usr/bin/python3 else.
#
# Needs only POSIX sh, sed, GNU tar, gzip and rpmbuild: no Python build tooling. Where the rpm
# database does not know rpm itself (Debian's rpmbuild in CI), BuildRequires cannot be checked,
# so --nodeps is added. Prints the path of the RPM on the last line.
set -eu

# Paths given as options are relative to where the script is called from.
absolute() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$PWD" "$1" ;;
    esac
}

here=$(cd "$(dirname "$0")/.." && pwd)
topdir="$here/build/rpmbuild"
outdir="$here/dist"
source=""
dist=""
python=""
while [ $# -gt 0 ]; do
    case "$1" in
        --topdir) topdir=$(absolute "$2"); shift 2 ;;
        --outdir) outdir=$(absolute "$2"); shift 2 ;;
        --source) source=$(absolute "$2"); shift 2 ;;
        --dist) dist=$2; shift 2 ;;
        --python) python=$2; shift 2 ;;
        -h|--help) sed -n '2,19s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) break ;;
    esac
done
cd "$here"

version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' src/tcpchat/__init__.py)
spec_version=$(sed -n 's/^Version:[[:space:]]*//p' packaging/tcp-chat.spec)
if [ -z "$version" ] || [ "$version" != "$spec_version" ]; then
    echo "build-rpm.sh: version ${version:-?} in src/tcpchat/__init__.py differs from" \
        "Version: ${spec_version:-?} in packaging/tcp-chat.spec; update the spec (and its" \
        "%changelog)" >&2
    exit 1
fi

mkdir -p "$topdir/SOURCES" "$outdir"
tarball="$topdir/SOURCES/tcp_chat-$version.tar.gz"
if [ -n "$source" ]; then
    cp "$source" "$tarball"
else
    # The same top directory and contents as the sdist (see MANIFEST.in).
    tar --create --gzip --file "$tarball" --owner=0 --group=0 --numeric-owner \
        --exclude=__pycache__ --exclude='*.py[cod]' --exclude=.pytest_cache \
        --exclude=.hypothesis --transform "s,^,tcp_chat-$version/," \
        LICENSE README.md pyproject.toml MANIFEST.in src tests docs packaging
fi

set -- --define "_topdir $topdir" "$@"
case "$dist" in
    "") ;;
    el[0-9]*) set -- --define "dist .$dist" --define "rhel ${dist#el}" "$@" ;;
    *) echo "build-rpm.sh: --dist takes el8 or el9, not $dist" >&2; exit 2 ;;
esac
if [ -n "$python" ]; then
    set -- --define "build_python $python" "$@"
fi
if ! rpm -q --quiet rpm 2>/dev/null; then
    set -- --nodeps "$@"
fi

# The build must test the installed tree, whatever the caller's PYTHONPATH says.
unset PYTHONPATH
stamp="$topdir/.build-started"
: > "$stamp"
rpmbuild -bb "$@" packaging/tcp-chat.spec

rpmfile=$(find "$topdir/RPMS/noarch" -name "tcp-chat-$version-*.noarch.rpm" -newer "$stamp")
if [ -z "$rpmfile" ] || [ "$(printf '%s\n' "$rpmfile" | wc -l)" -ne 1 ]; then
    echo "build-rpm.sh: expected one new tcp-chat-$version RPM in $topdir/RPMS/noarch" >&2
    exit 1
fi
cp "$rpmfile" "$outdir/"
echo "$outdir/$(basename "$rpmfile")"
