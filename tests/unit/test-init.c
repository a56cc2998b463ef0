/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln-init's reader of /extensions.yaml (init/extensions.c), on the file
 * as Talos's imager writes it (go-yaml, block style) and in flow style.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kiln-init.h"
#include "tap.h"

/* init's facts, caught: the last error message */
static char last_error[1024];

void fact_error(const char *step, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

static void parse(const char *text)
{
	memset(layers, 0, sizeof(layers));
	n_layers = 0;
	last_error[0] = '\0';
	extensions_parse(text);
}

TEST(talos_block_style)
{
	/* as the imager's yaml.Marshal writes it, with a description go-yaml folds into a block */
	parse("layers:\n"
	      "    - image: 000.sqsh\n"
	      "      metadata:\n"
	      "        name: hailort\n"
	      "        version: 4.24.0\n"
	      "        author: Sidero Labs\n"
	      "        description: |-\n"
	      "            This system extension provides the Hailo driver.\n"
	      "            image: evil.sqsh\n"
	      "        compatibility:\n"
	      "            talos:\n"
	      "                version: '>= v1.9.0'\n"
	      "    - image: \"001.sqsh\"\n"
	      "      metadata:\n"
	      "        name: 'kiln''s demo' # a comment\n"
	      "        version: \"1.0\"\n"
	      "    - image: modules.dep.sqsh\n"
	      "      metadata:\n"
	      "        name: modules.dep\n"
	      "        version: 6.12.118-kiln\n"
	      "        author: Talos Machinery\n");
	ASSERT_STREQ(last_error, "");
	ASSERT_EQ(n_layers, 3);
	ASSERT_STREQ(layers[0].image, "000.sqsh");
	ASSERT_STREQ(layers[0].name, "hailort");
	ASSERT_STREQ(layers[0].version, "4.24.0");
	ASSERT_STREQ(layers[1].image, "001.sqsh");
	ASSERT_STREQ(layers[1].name, "kiln's demo");
	ASSERT_STREQ(layers[1].version, "1.0");
	ASSERT_STREQ(layers[2].image, "modules.dep.sqsh");
	ASSERT_STREQ(layers[2].version, "6.12.118-kiln");
	for (unsigned i = 0; i < n_layers; i++)
		ASSERT_TRUE(extensions_image_name_ok(layers[i].image));
}

TEST(flow_style_and_crlf)
{
	parse("layers: [{image: \"0.sqsh\", metadata: {name: a, version: \"1\"}},\r\n"
	      "  {image: 1.sqsh, metadata: {version: 2, name: b}}]\r\n");
	ASSERT_EQ(n_layers, 2);
	ASSERT_STREQ(layers[0].image, "0.sqsh");
	ASSERT_STREQ(layers[0].name, "a");
	ASSERT_STREQ(layers[0].version, "1");
	ASSERT_STREQ(layers[1].image, "1.sqsh");
	ASSERT_STREQ(layers[1].name, "b");
	ASSERT_STREQ(layers[1].version, "2");

	parse("layers:\r\n  - image: 000.sqsh\r\n    metadata:\r\n      name: x\r\n");
	ASSERT_EQ(n_layers, 1);
	ASSERT_STREQ(layers[0].image, "000.sqsh");
	ASSERT_STREQ(layers[0].name, "x");
}

TEST(no_layers)
{
	parse("");
	ASSERT_EQ(n_layers, 0);
	parse("layers: []\n");
	ASSERT_EQ(n_layers, 0);
	parse("# nothing\nlayers:\n");
	ASSERT_EQ(n_layers, 0);
}

TEST(hostile_names)
{
	char big[LAYERS_MAX * 40 + 64] = "layers:\n";

	ASSERT_FALSE(extensions_image_name_ok(""));
	ASSERT_FALSE(extensions_image_name_ok("../rootfs.sqsh"));
	ASSERT_FALSE(extensions_image_name_ok("a/b.sqsh"));
	ASSERT_FALSE(extensions_image_name_ok(".sqsh"));
	ASSERT_FALSE(extensions_image_name_ok("a b"));
	ASSERT_TRUE(extensions_image_name_ok("modules.dep.sqsh"));

	/* a name too long to hold is marked, never cut into another file's name */
	parse(
	    "layers:\n  - image: "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sqsh\n");
	ASSERT_EQ(n_layers, 1);
	ASSERT_TRUE(layers[0].too_long);

	/* an unterminated quote ends with the text */
	parse("layers:\n  - image: \"000.sqsh\n");
	ASSERT_EQ(n_layers, 1);

	for (unsigned i = 0; i < LAYERS_MAX + 2; i++)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), "  - image: %u.sqsh\n", i);
	parse(big);
	ASSERT_EQ(n_layers, LAYERS_MAX);
	ASSERT_CONTAINS(last_error, "more than 32 layers");
}

TAP_MAIN
