/*
 * Fuzz target for the snapshot index reader (outside input: a store can be tampered with).
 * An input starting with "PLATEIDX" is parsed as it is; any other input is taken as a body
 * and given a sound header (version and checksum), so that the fuzzer reaches the node
 * parser instead of stopping at the checksum.  Parsing never crashes; a parsed index is a
 * tree whose children lie inside the node array and are sorted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "layer/layer.h"
#include "digest/digest.h"

#define HEADER_LEN 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hexval(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_error_ struct plate_error *err = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	struct layer_index *ix = NULL;
	char d[DIGEST_STRING_LEN + 1];
	uint64_t entries, bytes;

	if (size < 8 || memcmp(data, "PLATEIDX", 8) != 0) {
		if (size > LAYER_INDEX_MAX - HEADER_LEN ||
		    (buf = malloc(size + HEADER_LEN)) == NULL)
			return 0;
		memcpy(buf, "PLATEIDX", 8);
		buf[8] = LAYER_INDEX_VERSION;
		buf[9] = buf[10] = buf[11] = 0;
		for (int i = 0; i < 4; i++)
			buf[12 + i] = (uint8_t)(size >> (8 * i));
		if (size)
			memcpy(buf + HEADER_LEN, data, size);
		if (digest_buffer(buf + HEADER_LEN, size, d, &err) < 0)
			return 0;
		for (int i = 0; i < 32; i++)
			buf[16 + i] = (uint8_t)(hexval(d[7 + 2 * i]) << 4 | hexval(d[8 + 2 * i]));
		data = buf;
		size += HEADER_LEN;
	}
	if (layer_index_parse(data, size, NULL, &ix, &err) < 0) {
		if (err == NULL)
			abort();
		return 0;
	}
	layer_index_stats(ix, &entries, &bytes);
	if (entries + 1 != ix->n)
		abort();
	for (size_t i = 0; i < ix->n; i++) {
		const struct layer_index_node *n = &ix->nodes[i];
		if (n->n_children &&
		    ((size_t)n->first_child <= i || (size_t)n->first_child + n->n_children > ix->n))
			abort();
		for (uint32_t k = 1; k < n->n_children; k++)
			if (strcmp(ix->nodes[n->first_child + k - 1].name,
				   ix->nodes[n->first_child + k].name) >= 0)
				abort();
		if (n->facts >= 0) {
			const struct elf_facts *f = &ix->facts[n->facts];
			if ((size_t)n->facts >= ix->n_facts)
				abort();
			for (size_t k = 0; k < f->n_needed; k++)
				if (strlen(f->needed[k]) > ELF_MAX_STRING)
					abort();
		}
	}
	layer_index_free(ix);
	return 0;
}
