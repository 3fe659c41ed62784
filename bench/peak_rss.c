/* peak_rss OUT_FILE CMD [ARG...]: runs CMD and writes its peak resident set
 * size, from wait4()'s ru_maxrss, to OUT_FILE as one JSON object; exits with
 * CMD's status (128 + signal when killed). Linux sets a child's ru_maxrss to
 * at least the RSS of the process that exec'd it, so the figure is only
 * honest when the exec'ing process is small: this program (about 1 MB) rather
 * than the Python runner (about 17 MB). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: peak_rss OUT_FILE CMD [ARG...]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("peak_rss: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "peak_rss: %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("peak_rss: wait4");
            return 2;
        }
    }
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE *f = fopen(argv[1], "w");
    if (!f) {
        fprintf(stderr, "peak_rss: %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    fprintf(f, "{\"rc\": %d, \"maxrss_kb\": %ld}\n", rc, ru.ru_maxrss);
    fclose(f);
    return rc;
}
