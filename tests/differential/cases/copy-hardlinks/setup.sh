mkdir -p tree/sub && echo x > tree/f && ln tree/f tree/sub/g && ln tree/f tree/h
