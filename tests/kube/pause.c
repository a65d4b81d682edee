/* pause: the sandbox (pod infrastructure) process of the test node's pods.
 *
 * It holds the pod's namespaces open and does nothing else: it sleeps in
 * pause(2), reaps any child that ends (it is PID 1 of the sandbox), and exits 0
 * on SIGINT or SIGTERM, as Kubernetes' own pause does. Built static here
 * (gcc -static) so the image is one file on scratch.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) { (void)sig; _exit(0); }

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = quit;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = reap;
  sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  sigaction(SIGCHLD, &sa, NULL);
  for (;;) pause();
}
