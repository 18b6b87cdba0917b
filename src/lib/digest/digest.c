#include "digest/digest.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <string.h>

/* Turns the OpenSSL error queue's first entry into a message (rule: first cause wins). */
static int openssl_error(struct plate_error **err, const char *what)
{
	unsigned long code = ERR_get_error();
	char text[256] = "unknown OpenSSL error";

	if (code != 0)
		ERR_error_string_n(code, text, sizeof(text));
	ERR_clear_error();
	return plate_err_new(err, ENOMEM, "%s: %s", what, text);
}

int digest_init(struct digest *d, struct plate_error **err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	d->evp = NULL;
	d->bytes = 0;
	if (ctx == NULL)
		return openssl_error(err, "cannot allocate a SHA-256 context");
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return openssl_error(err, "cannot start SHA-256");
	}
	d->evp = ctx;
	return 0;
}

void digest_update(struct digest *d, const void *data, size_t len)
{
	if (len == 0)
		return;
	/* EVP_DigestUpdate on an initialised SHA-256 context has no failure mode. */
	EVP_DigestUpdate(d->evp, data, len);
	d->bytes += len;
}

void digest_final(struct digest *d, char out[DIGEST_STRING_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char *p;

	EVP_DigestFinal_ex(d->evp, md, &md_len);
	memcpy(out, DIGEST_ALGORITHM ":", sizeof(DIGEST_ALGORITHM));
	p = out + sizeof(DIGEST_ALGORITHM);
	for (unsigned int i = 0; i < md_len; i++) {
		*p++ = hex[md[i] >> 4];
		*p++ = hex[md[i] & 15];
	}
	*p = '\0';
	EVP_DigestInit_ex(d->evp, EVP_sha256(), NULL);
	d->bytes = 0;
}

void digest_release(struct digest *d)
{
	EVP_MD_CTX_free(d->evp);
	d->evp = NULL;
}

int digest_buffer(const void *data, size_t len, char out[DIGEST_STRING_LEN + 1],
		  struct plate_error **err)
{
	struct digest d;

	if (digest_init(&d, err) < 0)
		return -1;
	digest_update(&d, data, len);
	digest_final(&d, out);
	digest_release(&d);
	return 0;
}

int digest_parse(const char *s, size_t len, struct plate_error **err)
{
	const size_t prefix = sizeof(DIGEST_ALGORITHM); /* "sha256:" */

	if (len < prefix || memcmp(s, DIGEST_ALGORITHM ":", prefix) != 0)
		return plate_err_new(err, EINVAL, "unsupported digest algorithm in '%.*s'",
				     (int)(len > 80 ? 80 : len), s);
	if (len != DIGEST_STRING_LEN)
		return plate_err_new(err, EINVAL, "digest '%.*s' does not have 64 hex digits",
				     (int)(len > 80 ? 80 : len), s);
	for (size_t i = prefix; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return plate_err_new(err, EINVAL, "digest '%.*s' is not lower-case hex",
					     (int)len, s);
	}
	return 0;
}

bool digest_is_valid(const char *s)
{
	struct plate_error *err = NULL;
	bool ok = digest_parse(s, strlen(s), &err) == 0;

	plate_error_free(err);
	return ok;
}
