# generated from appliance/operator.yaml for role operator

node_name = operator-1
company_name = "My Company"
anylog_server_port = 32148
anylog_rest_port = 32149
ledger_conn = 127.0.0.1:32048
sync_time = "30 seconds"
db_type = sqlite
loc = "43.6532,-79.3832"
country = CA
state = ON
city = Toronto
default_dbms = test
cluster_name = cluster-1

run tcp server where external_ip = !external_ip and external_port = !anylog_server_port and internal_ip = !ip and internal_port = !anylog_server_port and bind = false and threads = 6
run rest server where external_ip = !external_ip and external_port = !anylog_rest_port and internal_ip = !ip and internal_port = !anylog_rest_port and bind = false and threads = 6 and timeout = 20

connect dbms almgm where type = sqlite
create table tsd_info where dbms = almgm
connect dbms !default_dbms where type = sqlite
connect dbms system_query where type = sqlite and memory = true

run scheduler 1
run blockchain sync where source = master and time = !sync_time and dest = file and connection = !ledger_conn

<new_policy = {"cluster": {"company": !company_name, "dbms": !default_dbms, "name": !cluster_name, "master": !ledger_conn}}>
policy = blockchain get cluster where name = !cluster_name and company = !company_name bring.first
if not !policy then
do blockchain prepare policy !new_policy
do blockchain insert where policy = !new_policy and local = true and master = !ledger_conn
cluster_id = blockchain get cluster where name = !cluster_name and company = !company_name bring.first [cluster][id]
<new_policy = {"operator": {"hostname": !hostname, "name": !node_name, "company": !company_name, "ip": !external_ip, "local_ip": !ip,
    "port": !anylog_server_port.int, "rest_port": !anylog_rest_port.int, "cluster": !cluster_id, "loc": !loc, "country": !country, "state": !state, "city": !city}}>
policy = blockchain get operator where name = !node_name and company = !company_name
if not !policy then
do blockchain prepare policy !new_policy
do blockchain insert where policy = !new_policy and local = true and master = !ledger_conn

partition !default_dbms * using insert_timestamp by 1 day
schedule time = 1 day and name = "Drop Partitions" task drop partition where dbms = !default_dbms and table = * and keep = 7
set buffer threshold where write_immediate = true
operator_id = blockchain get operator where name = !node_name and company = !company_name bring [operator][id]
run operator where create_table = true and update_tsd_info = true and archive = true and master_node = !ledger_conn and policy = !operator_id
