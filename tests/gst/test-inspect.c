/* test-inspect.c — gst-inspect-1.0 llavainterleave against the checked-in
 * snapshot tests/gst/llavainterleave.inspect: pads, property names, blurbs,
 * flags, ranges and defaults are the element's documented interface.
 * LLAVA_UPDATE_SNAPSHOT=1 rewrites the snapshot from the current build. */
#include <gst/gst.h>
#include <string.h>

/* Output lines that depend on the machine, not on the element. */
static char *
filter (const char *out)
{
  GString *s = g_string_new (NULL);
  char **lines = g_strsplit (out, "\n", -1);

  for (guint i = 0; lines[i]; i++) {
    if (strstr (lines[i], "Filename "))
      continue;
    g_string_append (s, lines[i]);
    g_string_append_c (s, '\n');
  }
  g_strfreev (lines);
  return g_string_free (s, FALSE);
}

static void
test_inspect_snapshot (void)
{
  const char *dir = g_getenv ("LLAVA_GST_TEST_DATA");
  char *argv[] = { (char *) "gst-inspect-1.0", (char *) "llavainterleave",
    NULL
  };
  char **envp = g_get_environ ();
  char *out = NULL, *err_out = NULL, *got, *want = NULL, *path;
  int status;
  GError *err = NULL;

  g_assert_nonnull (dir);
  path = g_build_filename (dir, "llavainterleave.inspect", NULL);
  envp = g_environ_setenv (envp, "GST_INSPECT_NO_COLORS", "1", TRUE);
  envp = g_environ_setenv (envp, "PAGER", "cat", TRUE);
  g_assert_true (g_spawn_sync (NULL, argv, envp, G_SPAWN_SEARCH_PATH, NULL,
          NULL, &out, &err_out, &status, &err));
  g_assert_no_error (err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  got = filter (out);

  if (g_getenv ("LLAVA_UPDATE_SNAPSHOT")) {
    g_assert_true (g_file_set_contents (path, got, -1, &err));
    g_assert_no_error (err);
    g_test_message ("snapshot written to %s", path);
  }
  g_assert_true (g_file_get_contents (path, &want, NULL, &err));
  g_assert_no_error (err);
  if (strcmp (got, want) != 0) {
    g_test_message ("gst-inspect-1.0 output differs from %s; if the change "
        "is intended, rerun with LLAVA_UPDATE_SNAPSHOT=1.\n--- got:\n%s",
        path, got);
    g_test_fail ();
  }
  g_free (path);
  g_free (out);
  g_free (err_out);
  g_free (got);
  g_free (want);
  g_strfreev (envp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/inspect/snapshot", test_inspect_snapshot);
  return g_test_run ();
}
