#!/bin/sh
# Builds the reference frontend from SRC into DIST as a bundler would: the script and the
# stylesheet renamed with their content hash (so they can be cached for good), index.html
# pointing at the new names (so it must be revalidated), and a .gz beside each text file.
set -eu
src=$1
dist=$2
mkdir -p "$dist/assets"
cp "$src/index.html" "$src/favicon.svg" "$dist/"
for file in app.js app.css; do
    hash=$(sha256sum "$src/$file" | cut -c1-10)
    hashed="${file%.*}.$hash.${file##*.}"
    cp "$src/$file" "$dist/assets/$hashed"
    sed -i "s|/assets/$file|/assets/$hashed|" "$dist/index.html"
done
find "$dist" -type f \( -name '*.html' -o -name '*.js' -o -name '*.css' -o -name '*.svg' \) \
    -exec gzip -9 -k -n {} \;
chmod -R a+rX "$dist"
