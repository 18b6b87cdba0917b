ln -s a.txt link-to-a
ln -s file dir/link
ln -s ../nowhere dir/dangling
