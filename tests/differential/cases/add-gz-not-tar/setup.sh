echo plain | gzip > notatar.gz
