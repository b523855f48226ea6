#!/usr/bin/env bash
# Regenerates the committed protobuf code from Protos/:
#   Swift -> Sources/TallyWire/Generated (protoc-gen-swift, built once from swift-protobuf)
#   C     -> Clients/c/generated          (protoc-c)
#   Python -> Clients/python/tally_client/_pb (protoc --python_out, by Clients/python/gen-protos.sh)
# Uses Debian's protoc; never swift-protobuf's build plugin (it compiles a whole C++ protoc).
set -euo pipefail
cd "$(dirname "$0")/.."

SWIFT_PROTOBUF_VERSION=1.39.0   # keep equal to the version Package.swift resolves
TOOLS=.build-tools

for tool in protoc protoc-c; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install protobuf-compiler protobuf-c-compiler" >&2; exit 1; }
done

plugin="$TOOLS/swift-protobuf-$SWIFT_PROTOBUF_VERSION/.build/release/protoc-gen-swift"
if [ ! -x "$plugin" ]; then
  mkdir -p "$TOOLS"
  src="$TOOLS/swift-protobuf-$SWIFT_PROTOBUF_VERSION"
  [ -d "$src" ] || git clone -q --depth 1 --branch "$SWIFT_PROTOBUF_VERSION" https://github.com/apple/swift-protobuf "$src"
  echo "building protoc-gen-swift $SWIFT_PROTOBUF_VERSION (about a minute, once)"
  (cd "$src" && swift build -c release --product protoc-gen-swift >/dev/null)
fi

protos=$(cd Protos && find . -name '*.proto' | sed 's|^\./||' | sort)
wire_protos=$(printf '%s\n' $protos | grep '^tally/v1/')

rm -rf Sources/TallyWire/Generated Clients/c/generated
mkdir -p Sources/TallyWire/Generated Clients/c/generated
(cd Protos && protoc --plugin=protoc-gen-swift="../$plugin" \
   --swift_out=../Sources/TallyWire/Generated --swift_opt=Visibility=Public,FileNaming=PathToUnderscores $protos)
# C clients only speak the wire protocol; the on-disk formats stay Swift-only.
(cd Protos && protoc-c --c_out=../Clients/c/generated $wire_protos)
Clients/python/gen-protos.sh
echo "generated:"; find Sources/TallyWire/Generated Clients/c/generated -type f | sort
