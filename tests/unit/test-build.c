/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lib/build without a sandbox or root: the stage cache key (pinned for the
 * stage "keyed" of tests/data/key-tree; which changes move it and which do
 * not), the files a stage sees at /pkg, secret entries, working directories
 * and the cache lock; and the tree copy of finalize and of dependencies
 * (lib/util/copy.c). Internal headers on purpose: these are lib/build's
 * internals.
 */
#include <fcntl.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kiln/build.h>
#include <kiln/spec.h>

#include "build-internal.h"
#include "copy.h"
#include "fileio.h"
#include "tap.h"
#include "helpers.h"

/* ---- the cache key --------------------------------------------------------------------------- */

/*
 * The key of "keyed" with the inputs below, computed once and written here:
 * any change to the key's text, intended or not, changes it, as does one
 * to the defaults of the builtin variables (which are in it). An intended
 * change of the text bumps STAGE_KEY_VERSION (lib/build/key.c), so that no
 * old entry is taken for a new one, and this literal with it.
 */
#define KEYED_KEY "015113237f65170ba25489b6b521a54d943bba1a44873bacfabf6caf5487a4e7"

/* What the key reads besides the tree. */
struct key_inputs {
	const char *platform;
	int64_t epoch;
	const char *base_output; /* the digest of base's output is that of this text */
	const char *tools_output;
	const char *secret; /* the digest of the secret signing-key */
	const char *unused_secret; /* of a secret no step mounts */
};

static const struct key_inputs default_inputs = {
	.platform = "linux/amd64",
	.epoch = 1700000000,
	.base_output = "base's output",
	.tools_output = "kiln-test/tools:1",
	.secret = "a signing key",
	.unused_secret = "a token",
};

/*
 * A copy of tests/data/key-tree with fixed modes (a checkout's depend on the
 * umask): directories 0755, files 0644, but keyed/run.sh 0755.
 */
static char *key_tree(void)
{
	char *d = temp_dir();

	run("cp -R %s/key-tree/. %s && cd %s && find . -type d -exec chmod 0755 {} + && "
	    "find . -type f -exec chmod 0644 {} + && chmod 0755 keyed/run.sh",
	    TEST_DATA, d, d);
	return d;
}

/* The key of "keyed" in the tree at @root, and the text it hashes in *@ret_text (may be NULL). */
static void key_of(const char *root, const struct key_inputs *in, char ret[65], char **ret_text)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_tree_freep) struct kiln_tree *tree = NULL;
	struct kiln_tree_options to = { .platform = in->platform };
	const struct kiln_build_secret secrets[] = {
		{ .id = "signing-key", .path = "/nonexistent/signing-key" },
		{ .id = "unused", .path = "/nonexistent/unused" },
	};
	struct kiln_build_options o = { .source_date_epoch = in->epoch,
					.secrets = secrets,
					.n_secrets = ELEMENTSOF(secrets) };
	struct kiln_digest secret_digests[ELEMENTSOF(secrets)];
	struct build b = { .ctx = ctx, .o = &o, .secret_digests = secret_digests };
	struct stage base = { 0 }, st = { 0 };
	struct stage_input inputs[2];
	const struct kiln_pkg *pkg;
	int r;

	r = kiln_tree_load(ctx, root, &to, &tree);
	if (r < 0)
		TAP_FAIL("loading %s: %s", root, kiln_ctx_error(ctx));
	b.tree = tree;
	pkg = kiln_tree_find(tree, "keyed");
	ASSERT_TRUE(pkg != NULL);
	base.pkg = kiln_tree_find(tree, "base");
	ASSERT_TRUE(base.pkg != NULL);
	st.pkg = pkg;

	/* as build.c's plan() resolves them: the stage base, then the image */
	ASSERT_EQ(pkg->n_deps, 2);
	inputs[0] = (struct stage_input){ .dep = &pkg->deps[0],
					  .stage = &base,
					  .from = pkg->deps[0].from,
					  .to = pkg->deps[0].to };
	ASSERT_OK(kiln_digest_of(ctx, in->base_output, strlen(in->base_output), &inputs[0].digest));
	inputs[1] = (struct stage_input){ .dep = &pkg->deps[1],
					  .image = pkg->deps[1].image,
					  .from = pkg->deps[1].from,
					  .to = pkg->deps[1].to };
	ASSERT_OK(kiln_digest_of(ctx, in->tools_output, strlen(in->tools_output), &inputs[1].digest));
	st.inputs = inputs;
	st.n_inputs = ELEMENTSOF(inputs);
	ASSERT_OK(kiln_digest_of(ctx, in->secret, strlen(in->secret), &secret_digests[0]));
	ASSERT_OK(kiln_digest_of(ctx, in->unused_secret, strlen(in->unused_secret), &secret_digests[1]));

	r = stage_list_files(ctx, &b, &st);
	if (r < 0)
		TAP_FAIL("listing the files of keyed: %s", kiln_ctx_error(ctx));
	ASSERT_OK(stage_compute_key(ctx, &b, &st));
	memcpy(ret, st.key, sizeof(st.key));
	if (ret_text) {
		struct strbuf text = STRBUF_INIT;

		ASSERT_OK(stage_key_text(&b, &st, &text));
		*ret_text = strbuf_detach(&text, NULL);
	}
	stage_release_files(&st);
}

TEST(key_is_pinned)
{
	_cleanup_free_ char *root = key_tree(), *text = NULL;
	char key[65];

	key_of(root, &default_inputs, key, &text);
	if (!streq(key, KEYED_KEY)) {
		printf("# the key's text:\n");
		tap_print_diag(text);
	}
	ASSERT_STREQ(key, KEYED_KEY);
}

TEST(key_text_is_its_own)
{
	_cleanup_free_ char *root = key_tree(), *text = NULL;
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	struct kiln_digest d;
	char key[65];

	static const char head[] = "kiln-stage-v3\nplatform 11:linux/amd64\nepoch 1700000000\n";
	static const char *const absent[] = {
		"example.com", "spdx", "unused", "pkg.yaml", ".hidden", "\"name\"",
	};

	key_of(root, &default_inputs, key, &text);
	ASSERT_TRUE(strncmp(text, head, strlen(head)) == 0);
	/* field by field, lengths first: a value with a newline stays one value */
	ASSERT_CONTAINS(text, "\nname 5:keyed\nvariant 7:scratch\nshell 7:/bin/sh\n"
			      "build-platform -\napk 0\nstep 0\n");
	ASSERT_CONTAINS(text, "\nsource 12:keyed.tar.gz 64:0123456789abcdef");
	ASSERT_CONTAINS(text, "\nenv 8:GREETING 5:hello\nenv 5:LEVEL 1:3\n");
	ASSERT_CONTAINS(text, "\nsecrets 2 11:signing-key 15:optional-token?\n");
	ASSERT_CONTAINS(text, "\nbuild 1 33:make -C keyed \\\n  LEVEL=\"$LEVEL\"\n\n");
	ASSERT_CONTAINS(text, "\nstep 1\ncache-paths 0\nsecrets 0\nnetwork 7:default\n");
	ASSERT_CONTAINS(text, "\nfinalize 7:/rootfs 1:/\n");
	ASSERT_CONTAINS(text, "\nfile 2 0777 ");
	ASSERT_CONTAINS(text, "\ninput sha256:");
	ASSERT_CONTAINS(text, " 1:/ 1:/ 4:base\n");
	ASSERT_CONTAINS(text, " 10:/toolchain 14:/opt/toolchain 17:kiln-test/tools:1\n");
	ASSERT_OK(kiln_digest_of(ctx, "a signing key", 13, &d));
	ASSERT_CONTAINS(text, "\nsecret 11:signing-key ");
	ASSERT_CONTAINS(text, d.s);
	/* what the stage does not read; and nothing of `kiln dump --json` */
	for (size_t i = 0; i < ELEMENTSOF(absent); i++)
		if (strstr(text, absent[i]))
			TAP_FAIL("the key's text holds \"%s\"", absent[i]);
}

/*
 * The key of "keyed" after @script ran in a fresh copy of the tree (NULL:
 * none) with @in. The script must change the tree (bytes, names, modes or
 * links; not only times), or the test would prove nothing.
 */
static void changed_key(const char *script, const struct key_inputs *in, char ret[65])
{
	_cleanup_free_ char *root = key_tree();

	if (script)
		run("cd %s && print() { tar --sort=name --mtime=@0 --numeric-owner -cf - . | "
		    "sha256sum; } && was=$(print) && { %s; } && [ \"$(print)\" != \"$was\" ]",
		    root, script);
	key_of(root, in, ret, NULL);
}

static const char *const changes_that_matter[] = {
	/* a step's script */
	"sed -i 's/make -C keyed install/make -C keyed install-strip/' keyed/pkg.yaml",
	/* an instruction's order */
	"sed -i 's|^      - mkdir -p /rootfs/usr/share/keyed$|      - true\\n&|' keyed/pkg.yaml",
	/* an env value, through a variable */
	"sed -i 's/level: \"3\"/level: \"4\"/' Pkgfile",
	/* a source's hash */
	"sed -i 's/sha256: 0123/sha256: 1123/' keyed/pkg.yaml",
	/* where a source goes */
	"sed -i 's/destination: keyed.tar.gz/destination: k.tar.gz/' keyed/pkg.yaml",
	/* a step's network */
	"sed -i 's/network: default/network: host/' keyed/pkg.yaml",
	/* a cache path */
	"sed -i 's|/root/.cache|/root/.ccache|' keyed/pkg.yaml",
	/* the secrets a step mounts */
	"sed -i 's/optional-token?/optional-token/' keyed/pkg.yaml",
	/* finalize */
	"sed -i 's|  - from: /rootfs|  - from: /rootfs/usr|' keyed/pkg.yaml",
	/* the shell */
	"sed -i '0,/shell: \\/bin\\/sh/s//shell: \\/bin\\/bash/' keyed/pkg.yaml",
	/* apk packages */
	"sed -i 's/^variant: scratch$/variant: scratch\\ninstall: [make]/' keyed/pkg.yaml",
	/* a file under the package directory: its bytes, its mode, a new one, one gone */
	"echo more >> keyed/files/data.txt",
	"chmod 0600 keyed/files/sub/deep.txt",
	"echo new > keyed/files/new.txt",
	"rm keyed/files/sub/deep.txt",
	/* a symlink's target */
	"ln -sfn files/sub/deep.txt keyed/link",
	/* a template's rendered text */
	"sed -i 's/greeting: hello/greeting: hi/' Pkgfile",
};

/* Fail unless each change (a script run in the tree, or other inputs) moves the key, or leaves it.
 */
static void check_changes(const char *const *scripts, size_t n_scripts,
			  const struct key_inputs *inputs, size_t n_inputs, bool moves)
{
	char def[65], key[65];

	changed_key(NULL, &default_inputs, def);
	for (size_t i = 0; i < n_scripts + n_inputs; i++) {
		const char *script = i < n_scripts ? scripts[i] : NULL;

		changed_key(script, i < n_scripts ? &default_inputs : &inputs[i - n_scripts], key);
		if (streq(key, def) == moves)
			TAP_FAIL("the key %s with change #%zu: %s",
				 moves ? "did not change" : "changed", i,
				 script ?: "of the inputs");
	}
}

TEST(key_changes_with_what_the_stage_reads)
{
	struct key_inputs in[5];

	/* a dependency's output, an image's, a secret's digest, the epoch, the platform */
	for (size_t i = 0; i < ELEMENTSOF(in); i++)
		in[i] = default_inputs;
	in[0].base_output = "base's other output";
	in[1].tools_output = "kiln-test/tools:2";
	in[2].secret = "another signing key";
	in[3].epoch++;
	in[4].platform = "linux/arm64";
	check_changes(changes_that_matter, ELEMENTSOF(changes_that_matter), in, ELEMENTSOF(in),
		      true);
}

static const char *const changes_that_do_not[] = {
	/* a comment in pkg.yaml, and one more: the rendered definition is the same */
	"sed -i 's/# A comment: not part of the key./# Another comment./' keyed/pkg.yaml",
	"echo '# at the end' >> keyed/pkg.yaml",
	/* a comment in the Pkgfile */
	"sed -i '1i # a comment' Pkgfile",
	/* a template comment: the rendered text is the same */
	"sed -i 's|a comment the rendering drops|another|' keyed/greeting.txt.tmpl",
	/* a source's URL: both hashes pin its bytes */
	"sed -i 's|example.com/keyed-1.0.tar.gz|mirror.example.org/k.tgz|' keyed/pkg.yaml",
	/* the sbom: metadata the stage does not read */
	"sed -i 's/version: \"1.0\"/version: \"1.1\"/' keyed/pkg.yaml",
	/* a file the context filter leaves out of /pkg */
	"echo changed > keyed/.hidden && echo new > keyed/.new",
	/* the package's directory: its files are keyed by their path in it */
	"mkdir pkgs && mv keyed pkgs/",
	/* another package */
	"sed -i 's|kiln-test/busybox:1|kiln-test/busybox:2|' base/pkg.yaml",
	/* a value written another way: quoted, it parses to the same */
	"sed -i 's|image: kiln-test/tools:1$|image: \"kiln-test/tools:1\"|' keyed/pkg.yaml",
};

TEST(key_stays_without_what_it_does_not_read)
{
	/* a secret given to the build that no step of the stage mounts */
	struct key_inputs in = default_inputs;

	in.unused_secret = "another token";
	check_changes(changes_that_do_not, ELEMENTSOF(changes_that_do_not), &in, 1, false);
}

/* ---- the files a stage sees at /pkg -------------------------------------------------------- */

TEST(pkg_files_are_listed_in_path_order)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_tree_freep) struct kiln_tree *tree = NULL;
	_cleanup_free_ char *root = key_tree();
	struct kiln_build_options o = { 0 };
	struct build b = { .ctx = ctx, .o = &o };
	struct stage st = { 0 };
	struct kiln_digest d;
	static const struct {
		const char *path;
		char type;
		unsigned mode;
		const char *content;
	} want[] = {
		{ "files", KILN_TAR_DIR, 0755, "" },
		{ "files/data.txt", KILN_TAR_REG, 0644, "data of keyed\n" },
		{ "files/sub", KILN_TAR_DIR, 0755, "" },
		{ "files/sub/deep.txt", KILN_TAR_REG, 0644, "deeper\n" },
		/* rendered: the template's text takes its place, without ".tmpl" */
		{ "greeting.txt", KILN_TAR_REG, 0644, "hello on x86_64\n" },
		{ "link", KILN_TAR_SYMLINK, 0777, "files/data.txt" },
		{ "run.sh", KILN_TAR_REG, 0755, "#!/bin/sh\necho keyed\n" },
	};

	/* a fifo is not copied to /pkg: a warning, not an entry */
	run("mkfifo %s/keyed/fifo", root);
	ASSERT_OK(kiln_tree_load(ctx, root,
				 &(struct kiln_tree_options){ .platform = "linux/amd64" }, &tree));
	b.tree = tree;
	st.pkg = kiln_tree_find(tree, "keyed");
	ASSERT_OK(stage_list_files(ctx, &b, &st));
	ASSERT_EQ(st.n_files, ELEMENTSOF(want));
	for (size_t i = 0; i < ELEMENTSOF(want); i++) {
		ASSERT_STREQ(st.files[i].path, want[i].path);
		ASSERT_EQ(st.files[i].type, want[i].type);
		ASSERT_EQ(st.files[i].mode, want[i].mode);
		ASSERT_OK(kiln_digest_of(ctx, want[i].content, strlen(want[i].content), &d));
		ASSERT_STREQ(st.files[i].digest.s, d.s);
		ASSERT_EQ(st.files[i].tmpl != NULL, streq(want[i].path, "greeting.txt"));
	}
	ASSERT_EQ(kiln_ctx_warnings(ctx), 1);
	stage_release_files(&st);
	ASSERT_EQ(st.n_files, 0);

	/* a package directory gone since the tree was read is named */
	run("rm -r %s/keyed", root);
	ASSERT_EQ(stage_list_files(ctx, &b, &st), -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "cannot open package directory");
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "/keyed");
	stage_release_files(&st);
}

/* ---- secrets ------------------------------------------------------------------------------- */

/* ---- the plan (plan.c) ----------------------------------------------------------------------- */

static const struct kiln_plan_stage *plan_find(const struct kiln_plan_stage *p, size_t n,
					       const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (streq(p[i].name, name))
			return &p[i];
	return NULL;
}

TEST(plan_lists_stages_dependencies_first_with_what_they_merge)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_tree_freep) struct kiln_tree *tree = NULL;
	const char *const targets[] = { "top", "left" };
	const struct kiln_plan_options o = { 0 };
	struct kiln_plan_stage *p = NULL;
	const struct kiln_plan_stage *top, *left, *right;
	size_t n = 0;

	ASSERT_OK(kiln_tree_load(ctx, TEST_DATA "/build-tree", NULL, &tree));
	ASSERT_OK(kiln_build_plan(ctx, NULL, tree, targets, 2, &o, &p, &n));
	ASSERT_EQ(n, 4u);
	ASSERT_STREQ(p[0].name, "base");
	ASSERT_EQ(p[0].n_deps, 0u);
	top = plan_find(p, n, "top");
	left = plan_find(p, n, "left");
	right = plan_find(p, n, "right");
	ASSERT_TRUE(top && left && right);
	ASSERT_TRUE(top->target && left->target && !right->target && !p[0].target);
	/* top merges base, left and right, each planned before it */
	ASSERT_EQ(top->n_deps, 3u);
	for (size_t i = 0; i < top->n_deps; i++)
		ASSERT_TRUE(&p[top->deps[i]] < top);
	ASSERT_STREQ(p[top->deps[0]].name, "base");
	ASSERT_EQ(left->n_deps, 1u);
	ASSERT_STREQ(p[left->deps[0]].name, "base");
	/* no keys asked for: none computed, nothing cached */
	for (size_t i = 0; i < n; i++)
		ASSERT_TRUE(!p[i].keyed && !p[i].cached);
	kiln_plan_stages_free(p, n);

	/* a target no package defines is an error naming it */
	ASSERT_EQ(kiln_build_plan(ctx, NULL, tree, (const char *const[]){ "nope" }, 1, &o, &p, &n),
		  -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "nope");
}

TEST(secret_entries)
{
	_cleanup_free_ char *a = NULL, *b = NULL;
	bool optional = true;

	a = secret_entry_id("signing-key", &optional);
	ASSERT_STREQ(a, "signing-key");
	ASSERT_FALSE(optional);
	b = secret_entry_id("token?", &optional);
	ASSERT_STREQ(b, "token");
	ASSERT_TRUE(optional);
	ASSERT_TRUE(secret_entry_is("token?", "token"));
	ASSERT_TRUE(secret_entry_is("token", "token"));
	ASSERT_FALSE(secret_entry_is("token2", "token"));
	ASSERT_FALSE(secret_entry_is("tok", "token"));
	ASSERT_FALSE(secret_entry_is("token??", "token"));
}

/* ---- working directories and the cache lock -------------------------------------------------- */

TEST(workdirs_held_are_kept_and_left_ones_removed)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = temp_dir(), *held = NULL, *left = NULL;
	_cleanup_close_ int held_fd = -1;
	int left_fd = -1;
	uint64_t freed = 0;

	ASSERT_OK(workdir_new(ctx, dir, "held", &held, &held_fd));
	ASSERT_OK(workdir_new(ctx, dir, "left", &left, &left_fd));
	ASSERT_CONTAINS(held, "held");
	ASSERT_FALSE(streq(held, left));
	run("head -c 10000 /dev/zero > %s/big", left);
	/* a killed kiln: its lock is gone, its directory stays */
	close(left_fd);
	ASSERT_OK(workdir_clean(ctx, dir, true, &freed));
	ASSERT_TRUE(freed >= 10000);
	ASSERT_TRUE(access(left, F_OK) == 0);
	ASSERT_OK(workdir_clean(ctx, dir, false, &freed));
	ASSERT_TRUE(access(left, F_OK) < 0 && errno == ENOENT);
	ASSERT_TRUE(access(held, F_OK) == 0);
}

TEST(cache_lock_is_shared_by_builds_and_exclusive_for_prune)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = temp_dir();
	_cleanup_close_ int a = -1, b = -1, c = -1;
	struct timespec tenth = { .tv_nsec = 100 * 1000 * 1000 };
	int status;
	pid_t pid;

	/* builds share it; prune is refused while one runs */
	ASSERT_OK(cache_lock(ctx, dir, false, &a));
	ASSERT_OK(cache_lock(ctx, dir, false, &b));
	ASSERT_EQ(cache_lock(ctx, dir, true, &c), -EBUSY);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "a build is running on the cache");
	closep(&a);
	closep(&b);
	ASSERT_OK(cache_lock(ctx, dir, true, &c));

	/* a build waits for the prune to end */
	pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		int fd = -1;

		close(c); /* the lock stays the parent's */
		_exit(cache_lock(ctx, dir, false, &fd) < 0 ? 1 : 0);
	}
	nanosleep(&tenth, NULL);
	ASSERT_EQ(waitpid(pid, &status, WNOHANG), 0);
	closep(&c);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(disk_usage_counts_files_not_what_links_point_at)
{
	_cleanup_free_ char *dir = temp_dir();
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(disk_usage_at(fd, "missing"), 0);
	run("mkdir %s/t && head -c 100000 /dev/urandom > %s/t/f && ln -s /usr %s/t/l", dir, dir,
	    dir);
	ASSERT_TRUE(disk_usage_at(fd, "t") >= 100000);
	ASSERT_TRUE(disk_usage_at(fd, "t") < 1000000);
}

/* ---- the tree copy (lib/util/copy.c) --------------------------------------------------------- */

struct roots {
	char *dir;
	int src, dst; /* the two roots' directories */
};

static void roots_release(struct roots *r)
{
	closep(&r->src);
	closep(&r->dst);
	free(r->dir);
}

/*
 * Two roots: src/ holding what a stage made (a tree with every kind of
 * entry, a file of two links, an absolute symlink out of it and a relative
 * one up out of it), and dst/, empty.
 */
static void make_roots(struct roots *r)
{
	_cleanup_free_ char *src = NULL, *dst = NULL;

	r->dir = temp_dir();
	run("cd %s && mkdir -p src/rootfs/usr/lib/modules/x src/rootfs/etc dst outside && "
	    "echo ko > src/rootfs/usr/lib/modules/x/a.ko && "
	    "ln src/rootfs/usr/lib/modules/x/a.ko src/rootfs/usr/lib/modules/x/b.ko && "
	    "echo conf > src/rootfs/etc/conf && chmod 0640 src/rootfs/etc/conf && "
	    "echo run > src/rootfs/run.sh && chmod 4755 src/rootfs/run.sh && "
	    "chmod 0700 src/rootfs/etc && "
	    "ln -s /etc/passwd src/rootfs/abs && ln -s ../../../outside src/rootfs/up && "
	    "mkfifo src/rootfs/fifo && echo secret > outside/secret && "
	    "echo single > src/single",
	    r->dir);
	src = cat(r->dir, "src");
	dst = cat(r->dir, "dst");
	r->src = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r->dst = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(r->src >= 0 && r->dst >= 0);
}

/* "@a" and "@b" (under the roots' directory) hold the same: content, types, modes, links. */
static void same(const struct roots *r, const char *a, const char *b)
{
	static const char *const sig = "find . -printf '%P %y %m %l\\n' | LC_ALL=C sort";

	run("cd %s && diff -r --no-dereference -x fifo %s %s && (cd %s && %s) > want && "
	    "(cd %s && %s) > got && diff want got",
	    r->dir, a, b, a, sig, b, sig);
}

TEST(copy_merges_a_directory_keeping_modes_and_links)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(roots_release) struct roots r = { .src = -1, .dst = -1 };

	make_roots(&r);
	/* finalize /rootfs -> /: the contents, into the root */
	ASSERT_OK(copy_in_root(ctx, "finalize /rootfs -> /", r.src, "/rootfs", r.dst, "/"));
	same(&r, "src/rootfs", "dst");
	/* the links are copied as links, not followed out of the roots */
	run("test \"$(readlink %s/dst/abs)\" = /etc/passwd", r.dir);
	run("test \"$(readlink %s/dst/up)\" = ../../../outside", r.dir);
	/* hard links as links */
	run("cd %s/dst/usr/lib/modules/x && test \"$(stat -c %%i a.ko)\" = \"$(stat -c %%i b.ko)\" "
	    "&& test \"$(stat -c %%h a.ko)\" = 2",
	    r.dir);
	ASSERT_EQ(kiln_ctx_warnings(ctx), 0);
}

TEST(copy_later_wins_and_directories_merge)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(roots_release) struct roots r = { .src = -1, .dst = -1 };

	make_roots(&r);
	run("cd %s/dst && mkdir -p etc usr/lib/modules/x/kept && echo old > etc/conf && "
	    "echo kept > etc/kept && mkdir fifo && echo in-the-way > fifo/f && "
	    "ln -s /nowhere run.sh",
	    r.dir);
	ASSERT_OK(copy_in_root(ctx, "finalize /rootfs -> /", r.src, "/rootfs", r.dst, "/"));
	run("cd %s/dst && test \"$(cat etc/conf)\" = conf && test \"$(cat etc/kept)\" = kept && "
	    "test -d usr/lib/modules/x/kept && test -p fifo && test -f run.sh && ! test -L run.sh "
	    "&& test \"$(stat -c %%a run.sh)\" = 4755 && test \"$(stat -c %%a etc)\" = 700",
	    r.dir);
}

TEST(copy_a_file_to_a_name_or_into_a_directory)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(roots_release) struct roots r = { .src = -1, .dst = -1 };

	make_roots(&r);
	/* to a new name, the directories on the way made */
	ASSERT_OK(copy_in_root(ctx, "copy", r.src, "/single", r.dst, "/a/b/renamed"));
	run("test \"$(cat %s/dst/a/b/renamed)\" = single", r.dir);
	/* into a directory that is there, under its own name */
	ASSERT_OK(copy_in_root(ctx, "copy", r.src, "/single", r.dst, "/a/b"));
	run("test \"$(cat %s/dst/a/b/single)\" = single", r.dir);
	/* "/" at the end: into a directory, made */
	ASSERT_OK(copy_in_root(ctx, "copy", r.src, "/rootfs/etc/conf", r.dst, "/new/"));
	run("test \"$(cat %s/dst/new/conf)\" = conf && test \"$(stat -c %%a %s/dst/new/conf)\" = 640",
	    r.dir, r.dir);
	/* a file over a file: replaced */
	ASSERT_OK(copy_in_root(ctx, "copy", r.src, "/rootfs/etc/conf", r.dst, "/a/b/renamed"));
	run("test \"$(cat %s/dst/a/b/renamed)\" = conf", r.dir);
}

TEST(copy_stays_in_its_roots)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(roots_release) struct roots r = { .src = -1, .dst = -1 };

	make_roots(&r);
	/* a source through a symlink out of the root resolves inside it: nothing there */
	ASSERT_EQ(
	    copy_in_root(ctx, "finalize /rootfs/up -> /", r.src, "/rootfs/up/secret", r.dst, "/"),
	    -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "finalize /rootfs/up -> /");
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "/rootfs/up/secret");
	ASSERT_EQ(copy_in_root(ctx, "finalize", r.src, "/../../outside/secret", r.dst, "/"),
		  -ENOENT);
	/* a destination through a symlink out of the root is resolved inside it */
	run("ln -s ../outside %s/dst/escape", r.dir);
	ASSERT_EQ(copy_in_root(ctx, "copy", r.src, "/single", r.dst, "/escape/single"), -ENOENT);
	printf("# %s\n", kiln_ctx_error(ctx));
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "/escape");
	run("test ! -e %s/outside/single", r.dir);
	/* a missing source is named, with what was being done */
	ASSERT_EQ(copy_in_root(ctx, "finalize /nope -> /", r.src, "/nope", r.dst, "/"), -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "finalize /nope -> /: cannot find \"/nope\"");
}

TEST(copy_errors_name_the_entry)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(roots_release) struct roots r = { .src = -1, .dst = -1 };

	make_roots(&r);
	run("chmod 0 %s/src/rootfs/etc/conf", r.dir);
	if (geteuid() == 0) {
		/* root reads it all the same, and the mode goes with it */
		ASSERT_OK(copy_in_root(ctx, "finalize /rootfs -> /", r.src, "/rootfs", r.dst, "/"));
		run("test \"$(stat -c %%a %s/dst/etc/conf)\" = 0", r.dir);
		return;
	}
	ASSERT_EQ(copy_in_root(ctx, "finalize /rootfs -> /", r.src, "/rootfs", r.dst, "/"),
		  -EACCES);
	ASSERT_CONTAINS(kiln_ctx_error(ctx),
			"finalize /rootfs -> /: cannot read \"/rootfs/etc/conf\"");
}

TAP_MAIN
