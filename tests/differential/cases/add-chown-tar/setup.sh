mkdir -p s/d && echo content0 > s/foo && echo x > s/d/y && tar -C s --owner=0 --group=0 -cf t.tar foo d && rm -rf s
