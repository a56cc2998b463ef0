/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A kernel's .config and the vermagic derived from it, as the kernel's
 * include/linux/vermagic.h derives it (see kernel.c for why it is derived
 * rather than read off a module).
 */
#include <string.h>

#include <kiln/module.h>

#include "kconfig.h"
#include "log.h"
#include "strbuf.h"

/*
 * "CONFIG_FOO=value" lines into the empty map @ret (key "CONFIG_FOO"); "# ...
 * is not set" and anything else is skipped, as Kconfig itself does when it
 * reads one.
 */
int kconfig_parse(const char *text, size_t len, struct strmap *ret)
{
	_cleanup_strmap_ struct strmap m = STRMAP_INIT;
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end, *eq;

		if (eol - p > 7 && strncmp(p, "CONFIG_", 7) == 0 &&
		    (eq = memchr(p, '=', (size_t)(eol - p)))) {
			_cleanup_free_ char *key = strndup(p, (size_t)(eq - p));
			int r;

			if (!key)
				return -ENOMEM;
			r = strmap_set_len(&m, key, eq + 1, (size_t)(eol - eq - 1));
			if (r < 0)
				return r;
		}
		p = eol + 1;
	}
	*ret = m;
	m = (struct strmap)STRMAP_INIT;
	return 0;
}

bool kconfig_yes(const struct strmap *cfg, const char *key)
{
	return streq(strmap_get(cfg, key), "y");
}

/* x86-32: arch/x86/include/asm/vermagic.h, in its order (the first one set wins). */
static const struct {
	const char *config, *family;
} x86_32_families[] = {
	{ "CONFIG_M486SX", "486SX " },	   { "CONFIG_M486", "486 " },
	{ "CONFIG_M586", "586 " },	   { "CONFIG_M586TSC", "586TSC " },
	{ "CONFIG_M586MMX", "586MMX " },   { "CONFIG_MCORE2", "CORE2 " },
	{ "CONFIG_MATOM", "ATOM " },	   { "CONFIG_M686", "686 " },
	{ "CONFIG_MPENTIUMII", "PENTIUMII " }, { "CONFIG_MPENTIUMIII", "PENTIUMIII " },
	{ "CONFIG_MPENTIUMM", "PENTIUMM " }, { "CONFIG_MPENTIUM4", "PENTIUM4 " },
	{ "CONFIG_MK6", "K6 " },	   { "CONFIG_MK7", "K7 " },
	{ "CONFIG_MK8", "K8 " },	   { "CONFIG_MELAN", "ELAN " },
	{ "CONFIG_MCRUSOE", "CRUSOE " },   { "CONFIG_MEFFICEON", "EFFICEON " },
	{ "CONFIG_MWINCHIPC6", "WINCHIPC6 " }, { "CONFIG_MWINCHIP3D", "WINCHIP3D " },
	{ "CONFIG_MCYRIXIII", "CYRIXIII " }, { "CONFIG_MVIAC3_2", "VIAC3-2 " },
	{ "CONFIG_MVIAC7", "VIAC7 " },	   { "CONFIG_MGEODEGX1", "GEODEGX1 " },
	{ "CONFIG_MGEODE_LX", "GEODE " },
};

/* Architectures that use asm-generic/vermagic.h: no part of their own. */
static const char *const generic_arches[] = {
	"CONFIG_S390", "CONFIG_ALPHA", "CONFIG_M68K", "CONFIG_PARISC", "CONFIG_SPARC",
};

/* Architectures whose part needs more than .config (ARM's comes from the CPU's -march). */
static const char *const underived_arches[] = {
	"CONFIG_ARM", "CONFIG_MIPS", "CONFIG_SUPERH", "CONFIG_IA64",
};

/* MODULE_ARCH_VERMAGIC of the architecture @cfg is for. */
static int arch_vermagic(struct kiln_ctx *ctx, const struct strmap *cfg, struct strbuf *sb)
{
	if (kconfig_yes(cfg, "CONFIG_X86_64") || kconfig_yes(cfg, "CONFIG_S390"))
		return 0;
	if (kconfig_yes(cfg, "CONFIG_X86_32")) {
		for (size_t i = 0; i < ELEMENTSOF(x86_32_families); i++)
			if (kconfig_yes(cfg, x86_32_families[i].config))
				return strbuf_adds(sb, x86_32_families[i].family);
		return kiln_error(ctx, EINVAL,
				  ".config is for x86-32 but sets no processor family");
	}
	if (kconfig_yes(cfg, "CONFIG_ARM64"))
		return strbuf_adds(sb, "aarch64");
	if (kconfig_yes(cfg, "CONFIG_RISCV"))
		return strbuf_adds(sb, "riscv");
	if (kconfig_yes(cfg, "CONFIG_PPC")) {
		bool mprofile = kconfig_yes(cfg, "CONFIG_MPROFILE_KERNEL");
		bool relocatable = kconfig_yes(cfg, "CONFIG_RELOCATABLE");

		return strbuf_addf(sb, "%s%s", mprofile ? "mprofile-kernel " : "",
				   relocatable ? "relocatable " : "");
	}
	for (size_t i = 0; i < ELEMENTSOF(generic_arches); i++)
		if (kconfig_yes(cfg, generic_arches[i]))
			return 0;
	for (size_t i = 0; i < ELEMENTSOF(underived_arches); i++)
		if (kconfig_yes(cfg, underived_arches[i]))
			return kiln_error(ctx, EOPNOTSUPP,
					  "the vermagic's architecture part of a %s kernel "
					  "does not follow from .config: give the kernel's "
					  "vermagic",
					  underived_arches[i]);
	return kiln_error(ctx, EOPNOTSUPP,
			  ".config names no architecture kiln knows the vermagic of: "
			  "give the kernel's vermagic");
}

int vermagic_from_kconfig(struct kiln_ctx *ctx, const char *release,
				 const struct strmap *cfg, const char *randstruct_seed, char **ret)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	char *vermagic;
	bool plugin;
	int r;

	r = strbuf_addf(&sb, "%s ", release);
	if (r >= 0 && kconfig_yes(cfg, "CONFIG_SMP"))
		r = strbuf_adds(&sb, "SMP ");
	/*
	 * PREEMPT_BUILD since 5.16; before, CONFIG_PREEMPT itself. In kernels
	 * that have PREEMPT_BUILD, PREEMPT selects it, so either one means it.
	 */
	if (r >= 0 &&
	    (kconfig_yes(cfg, "CONFIG_PREEMPT_BUILD") || kconfig_yes(cfg, "CONFIG_PREEMPT")))
		r = strbuf_adds(&sb, "preempt ");
	else if (r >= 0 && kconfig_yes(cfg, "CONFIG_PREEMPT_RT"))
		r = strbuf_adds(&sb, "preempt_rt ");
	if (r >= 0 && kconfig_yes(cfg, "CONFIG_MODULE_UNLOAD"))
		r = strbuf_adds(&sb, "mod_unload ");
	if (r >= 0 && kconfig_yes(cfg, "CONFIG_MODVERSIONS"))
		r = strbuf_adds(&sb, "modversions ");
	if (r < 0)
		return r;
	r = arch_vermagic(ctx, cfg, &sb);
	if (r < 0)
		return r;
	/* -DRANDSTRUCT comes with CONFIG_RANDSTRUCT (5.19+); the GCC plugin before it */
	plugin = kconfig_yes(cfg, "CONFIG_GCC_PLUGIN_RANDSTRUCT");
	if (kconfig_yes(cfg, "CONFIG_RANDSTRUCT") || plugin) {
		if (!randstruct_seed)
			return kiln_error(ctx, ENOENT,
					  "the kernel randomizes struct layouts "
					  "(CONFIG_RANDSTRUCT), so its vermagic holds a seed from "
					  "include/generated/randstruct_hash.h, which is missing");
		if (kconfig_yes(cfg, "CONFIG_RANDSTRUCT"))
			plugin = false;
		r = strbuf_addf(&sb, "%s%s", plugin ? "RANDSTRUCT_PLUGIN_" : "RANDSTRUCT_",
				randstruct_seed);
		if (r < 0)
			return r;
	}
	vermagic = strbuf_detach(&sb, NULL);
	if (!vermagic)
		return -ENOMEM;
	*ret = vermagic;
	return 0;
}

int kiln_vermagic_from_config(struct kiln_ctx *ctx, const char *release, const char *config,
			      size_t config_len, const char *randstruct_seed, char **ret)
{
	_cleanup_strmap_ struct strmap cfg = STRMAP_INIT;
	int r;

	r = kconfig_parse(config, config_len, &cfg);
	if (r < 0)
		return r;
	return vermagic_from_kconfig(ctx, release, &cfg, randstruct_seed, ret);
}

bool kiln_vermagic_same(const char *module_magic, const char *kernel_magic, bool has_crcs)
{
	if (has_crcs) {
		module_magic += strcspn(module_magic, " ");
		kernel_magic += strcspn(kernel_magic, " ");
	}
	return strcmp(module_magic, kernel_magic) == 0;
}
