mkdir -p t/pkg && echo packed > t/pkg/inside
tar -C t -cJf pkg.tar.xz pkg && tar -C t -cjf pkg.tar.bz2 pkg && rm -rf t
