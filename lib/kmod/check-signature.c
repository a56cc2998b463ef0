/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The signature check: module_sig_check() against the certificates the
 * kernel trusts (its certificate file, those built into its image), and
 * what an enforcing kernel does where it would only taint.
 */
#include <errno.h>
#include <string.h>

#include <kiln/module.h>

#include "check-internal.h"
#include "log.h"
#include "strbuf.h"

/*
 * The certificates the kernel trusts: the certificate file, and those built
 * into its image. With none, *@ret stays NULL. *@ret_trusted names them.
 */
int check_load_verifier(struct kiln_ctx *ctx, const struct kiln_kernel *k,
			struct kiln_verifier **ret, char **ret_trusted)
{
	const struct kiln_kernel_info *ki = kiln_kernel_info(k);
	_cleanup_(kiln_verifier_freep) struct kiln_verifier *v = NULL;
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const struct kiln_kernel_cert *certs;
	char *trusted;
	size_t n;
	int r;

	certs = kiln_kernel_certs(k, &n);
	if (!ki->cert && !n)
		return 0;
	r = kiln_verifier_new(ctx, &v);
	if (r >= 0 && ki->cert) {
		r = kiln_verifier_add_cert_file(ctx, v, ki->cert);
		strbuf_addf(&sb, "'%s'", ki->cert);
	}
	if (n && r >= 0)
		strbuf_addf(&sb, "%s%s built into '%s' (", sb.len ? " nor " : "",
			    n == 1 ? "the certificate" : "the certificates", ki->kernel_image);
	for (size_t i = 0; i < n && r >= 0; i++) {
		r = kiln_verifier_add_cert_der(ctx, v, certs[i].description, certs[i].der,
					       certs[i].der_len);
		strbuf_addf(&sb, "%s'%s'%s", i ? ", " : "", certs[i].description,
			    i + 1 == n ? ")" : "");
	}
	if (r < 0)
		return r;
	trusted = strbuf_detach(&sb, NULL);
	if (!trusted)
		return -ENOMEM;
	*ret_trusted = trusted;
	*ret = TAKE_PTR(v);
	return 0;
}

/* ---- signature ----------------------------------------------------------- */

/*
 * module_sig_check() on a signature the kernel cannot use (ENODATA, ENOKEY,
 * ENOPKG): fatal when signatures are enforced, else a taint. The fix is
 * about the kernel's certificate, when it is known.
 */
static void soft_signature_failure(struct check_state *st, struct mod_entry *me, int kernel_error,
				   char *msg, enum kiln_check_fix fix)
{
	const struct kiln_kernel_info *ki = st->ki;
	const char *reason = kernel_error == -ENOKEY   ? "module with unavailable key"
			     : kernel_error == -ENOPKG ? "module with unsupported crypto"
						       : "unsigned module";
	/* no .config: whether the kernel enforces is unknown, so assume the strict answer */
	bool enforced = st->o->sig_enforce || ki->sig_force != 0;
	char *says, *m2;

	if (enforced) {
		says =
		    check_fmt(st,
			      "Loading of %s is rejected\n(init_module() fails with EKEYREJECTED: "
			      "insmod prints \"Key was rejected by service\")",
			      reason);
		check_finding(st, KILN_CHECK_FAIL, NULL, msg, says, fix, ki->cert);
		return;
	}
	if (ki->lockdown_forced == 1) {
		says = check_fmt(st, "Lockdown: insmod: unsigned module loading is restricted; "
				     "see man kernel_lockdown.7");
		check_finding(st, KILN_CHECK_FAIL, NULL, msg, says, fix, ki->cert);
		return;
	}
	m2 = check_fmt(st,
		       "%s; it would load, tainting the kernel (E), but is rejected where "
		       "signatures are enforced (module.sig_enforce=1%s)",
		       strempty(msg),
		       ki->lockdown_secure_boot == 1 ? ", or lockdown under UEFI Secure Boot" : "");
	free(msg);
	says = check_fmt(st,
			 "%s: module verification failed: signature and/or required key missing - "
			 "tainting kernel",
			 me->name);
	check_finding(st, KILN_CHECK_WARN, NULL, m2, says, fix, ki->cert);
}

/* Without the kernel's certificate: what the trailer alone tells. */
static void check_signature_without_cert(struct check_state *st, struct mod_entry *me)
{
	const struct kiln_modsig *sig;
	char *msg;
	int r;

	r = kiln_module_signature(me->m, &sig);
	if (r == -ENODATA) {
		soft_signature_failure(st, me, -ENODATA, check_fmt(st, "the module is not signed"),
				       KILN_FIX_SIGN);
	} else if (r < 0) {
		/* mod_check_sig(): EBADMSG, fatal enforced or not */
		msg = check_fmt(st, "malformed signature trailer: %s",
				strempty(kiln_module_signature_error(me->m)));
		check_finding(st, KILN_CHECK_FAIL, NULL, msg, check_fmt(st, SAYS_EBADMSG),
			      KILN_FIX_RESIGN, st->ki->cert);
	} else if (st->ki->kernel_image) {
		msg = check_fmt(st,
				"the module is signed, but the kernel image '%s' has no built-in "
				"certificate to verify it against",
				st->ki->kernel_image);
		check_finding(st, KILN_CHECK_SKIPPED, NULL, msg, NULL, KILN_FIX_GIVE_CERT,
			      st->ki->kernel_image);
	} else {
		msg =
		    check_fmt(st, "the module is signed, but there is no certificate to verify it "
				  "against");
		check_finding(st, KILN_CHECK_SKIPPED, NULL, msg, NULL, KILN_FIX_GIVE_CERT, NULL);
	}
}

static const char *errno_name(int e)
{
	switch (e) {
	case -EKEYREJECTED:
		return "EKEYREJECTED";
	case -EBADMSG:
		return "EBADMSG";
	case -EMSGSIZE:
		return "EMSGSIZE";
	case -EINVAL:
		return "EINVAL";
	default:
		return "an error";
	}
}

void check_signature(struct check_state *st, struct mod_entry *me)
{
	struct kiln_verify_result vr = { 0 };
	const struct kiln_modsig_desc *d = &vr.desc;
	const uint8_t *data;
	char *msg, *says;
	size_t len;
	int r;

	st->kind = KILN_CHECK_SIGNATURE;
	if (st->ki->module_sig == 0) {
		msg = check_fmt(st, "the kernel does not check module signatures "
				    "(CONFIG_MODULE_SIG is off)");
		check_finding(st, KILN_CHECK_NOTE, NULL, msg, NULL, KILN_FIX_NONE, NULL);
		return;
	}
	if (!st->verifier) {
		check_signature_without_cert(st, me);
		return;
	}

	data = kiln_module_data(me->m, &len);
	r = kiln_verify_mem(st->ctx, st->verifier, data, len, &vr);
	if (r < 0) {
		st->oom = st->oom || r == -ENOMEM;
		msg = check_fmt(st, "cannot verify: %s", kiln_ctx_error(st->ctx) ?: strerror(-r));
		kiln_ctx_clear_error(st->ctx);
		check_finding(st, KILN_CHECK_SKIPPED, NULL, msg, NULL, KILN_FIX_NONE, NULL);
		return;
	}
	switch (vr.verdict) {
	case KILN_VERIFY_OK:
		break;
	case KILN_VERIFY_UNSIGNED:
		soft_signature_failure(st, me, -ENODATA, check_fmt(st, "the module is not signed"),
				       KILN_FIX_SIGN);
		break;
	case KILN_VERIFY_OTHER_KEY:
		msg = check_fmt(
		    st, "signed by a key the kernel does not trust: \"%s\" (key %s), not %s",
		    vr.has_desc ? strempty(d->signer) : "unknown signer",
		    vr.has_desc ? strempty(d->sig_key) : "?", st->trusted);
		soft_signature_failure(st, me, -ENOKEY, msg, KILN_FIX_RESIGN_OR_ENROLL);
		break;
	case KILN_VERIFY_CORRUPT:
		if (vr.kernel_error == -ENOPKG) {
			msg = check_fmt(st,
					"the signature uses an algorithm the kernel does not "
					"support: %s",
					strempty(vr.reason));
			soft_signature_failure(st, me, -ENOPKG, msg, KILN_FIX_RESIGN);
			break;
		}
		/* module_sig_check(): every other error is fatal, enforced or not */
		msg = check_fmt(st, "%s", vr.reason ? vr.reason : "corrupt signature");
		says = check_fmt(st, "(nothing logged; init_module() fails with %s: \"%s\")",
				 errno_name(vr.kernel_error),
				 strerror(vr.kernel_error < 0 ? -vr.kernel_error : EINVAL));
		check_finding(st, KILN_CHECK_FAIL, NULL, msg, says, KILN_FIX_RESIGN, st->ki->cert);
		break;
	}
	kiln_verify_result_release(&vr);
}
