mkdir -p t1/s t2 && echo x > t1/f && ln t1/f t1/s/g && echo y > t2/f && ln t2/f t2/h
