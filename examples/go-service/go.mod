module example.com/plate-demo

go 1.19
