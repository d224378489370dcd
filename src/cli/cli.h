/* cli.h — the subcommands of the `kefu` binary.  main.c dispatches argv[1]
 * here; each returns the process exit code (0 ok, 1 failure, 2 usage error). */
#ifndef KF_CLI_H
#define KF_CLI_H

int kf_cli_serve(int argc, char **argv);
int kf_cli_train(int argc, char **argv);
int kf_cli_eval(int argc, char **argv);
int kf_cli_predict(int argc, char **argv);
int kf_cli_check(int argc, char **argv);
int kf_cli_chat(int argc, char **argv);
int kf_cli_agent(int argc, char **argv);

#endif
