package mongodump

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// maxDocumentSize is the largest document a .bson file may hold: the
// server's 16 MiB limit plus the headroom mongodump allows for internal
// documents.
const maxDocumentSize = 16*1024*1024 + 16*1024

// DocumentReader reads the documents of a .bson or .bson.gz file one by one,
// checking each, and names the file and the byte offset of a bad one.
type DocumentReader struct {
	path   string
	file   *os.File
	gz     *gzip.Reader
	r      *bufio.Reader
	offset int64 // of the next document, in the uncompressed stream
}

// OpenDocuments opens path, decompressing when its name ends in .gz.
func OpenDocuments(path string) (*DocumentReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	d := &DocumentReader{path: path, file: f}
	var src io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(bufio.NewReader(f))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		d.gz = gz
		src = gz
	}
	d.r = bufio.NewReaderSize(src, 1<<20)
	return d, nil
}

// Next returns the next document, or io.EOF after the last one. The
// returned bytes are the caller's.
func (d *DocumentReader) Next() (bson.Raw, error) {
	var header [4]byte
	n, err := io.ReadFull(d.r, header[:])
	switch {
	case err == io.EOF:
		return nil, io.EOF
	case err != nil:
		return nil, d.errorf("truncated document length (%d of 4 bytes): %w", n, err)
	}
	size := int64(int32(binary.LittleEndian.Uint32(header[:])))
	if size < 5 || size > maxDocumentSize {
		return nil, d.errorf("invalid document length %d (want 5 to %d bytes)", size, maxDocumentSize)
	}
	doc := make([]byte, size)
	copy(doc, header[:])
	if n, err := io.ReadFull(d.r, doc[4:]); err != nil {
		return nil, d.errorf("truncated document: %d of %d bytes: %w", n+4, size, err)
	}
	if err := bson.Raw(doc).Validate(); err != nil {
		return nil, d.errorf("invalid document: %w", err)
	}
	d.offset += size
	return doc, nil
}

func (d *DocumentReader) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: offset %d: %w", d.path, d.offset, fmt.Errorf(format, args...))
}

// Close closes the file.
func (d *DocumentReader) Close() error {
	var gzErr error
	if d.gz != nil {
		gzErr = d.gz.Close()
	}
	return errors.Join(gzErr, d.file.Close())
}

// fileWriter writes one dump file, compressed or not; Close flushes and
// syncs it so that a dump that returned nil is on disk.
type fileWriter struct {
	path string
	file *os.File
	gz   *gzip.Writer
	buf  *bufio.Writer
}

func createFile(path string, compress bool) (*fileWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	w := &fileWriter{path: path, file: f}
	var dst io.Writer = f
	if compress {
		w.gz = gzip.NewWriter(f)
		dst = w.gz
	}
	w.buf = bufio.NewWriterSize(dst, 1<<20)
	return w, nil
}

func (w *fileWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }

func (w *fileWriter) Close() error {
	err := w.buf.Flush()
	if w.gz != nil {
		err = errors.Join(err, w.gz.Close())
	}
	err = errors.Join(err, w.file.Sync(), w.file.Close())
	if err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	return nil
}

// abort closes and removes a partly written file.
func (w *fileWriter) abort() {
	w.file.Close()
	os.Remove(w.path)
}
