mkdir -p t/pkg/sub && echo packed > t/pkg/inside && echo s > t/pkg/sub/s && chmod 0751 t/pkg/sub && ln -s inside t/pkg/link && ln t/pkg/inside t/pkg/hard
tar -C t --owner=7 --group=8 -cf pkg.tar pkg && gzip -k pkg.tar && rm -rf t
