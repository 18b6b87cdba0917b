mkdir -p t/pkg && echo packed > t/pkg/inside
tar -C t -cf - pkg | zstd -q -o pkg.tar.zst && rm -rf t
echo plain | zstd -q -o plain.zst
