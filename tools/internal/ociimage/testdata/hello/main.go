// Command hello is the program the ociimage tests put into images: small,
// so that compiling it for two platforms stays fast.
package main

import (
	"flag"
	"fmt"
	"runtime"
)

func main() {
	name := flag.String("name", "image", "who to greet")
	flag.Parse()
	fmt.Printf("hello, %s, from %s/%s\n", *name, runtime.GOOS, runtime.GOARCH)
}
